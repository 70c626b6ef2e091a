import { describe, expect, it } from 'vitest'
import { connectionPayload, emptyForm, formProblems, statusTheme, type Connection } from './connection'

const CONNECTED: Connection = {
  corp_id: 'ww1234abcd',
  agent_id: '1000002',
  api_base_url: 'https://qyapi.weixin.qq.com',
  contact_secret_set: true,
  directory_secret_set: false,
  status: 'verified',
  callback_verified_at: '2026-11-23T10:00:00Z',
  last_check_at: null,
  callback: { url: 'https://scrm.example.com/wecom/callback/brand', token: 't', encoding_aes_key: 'k' },
}

describe('formProblems', () => {
  it('needs a corp id and, before the first connect, the contact secret', () => {
    expect(formProblems(emptyForm(null), false)).toEqual({
      corpId: 'corpIdRequired',
      contactSecret: 'contactSecretRequired',
    })
    expect(formProblems({ ...emptyForm(null), corpId: 'ww 12/3', apiBaseUrl: 'ftp://x' }, true)).toEqual({
      corpId: 'corpIdInvalid',
      apiBaseUrl: 'apiBaseUrlInvalid',
    })
  })

  it('keeps stored secrets once connected', () => {
    expect(formProblems(emptyForm(CONNECTED), true)).toEqual({})
  })
})

describe('connectionPayload', () => {
  it('never sends an empty secret, so the stored one is kept', () => {
    expect(connectionPayload(emptyForm(CONNECTED))).toEqual({
      corp_id: 'ww1234abcd',
      agent_id: '1000002',
      api_base_url: 'https://qyapi.weixin.qq.com',
    })
  })

  it('sends trimmed new secrets and a missing agent id as null', () => {
    const form = { ...emptyForm(null), corpId: ' ww1 ', contactSecret: ' s1 ', directorySecret: 's2' }
    expect(connectionPayload(form)).toEqual({
      corp_id: 'ww1',
      agent_id: null,
      api_base_url: 'https://qyapi.weixin.qq.com',
      contact_secret: 's1',
      directory_secret: 's2',
    })
  })
})

describe('statusTheme', () => {
  it('colours verified green, failing red and pending amber', () => {
    expect([statusTheme('verified'), statusTheme('failing'), statusTheme('pending')]).toEqual([
      'success',
      'danger',
      'warning',
    ])
  })
})
