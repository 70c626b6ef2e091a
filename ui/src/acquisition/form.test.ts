import { describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import { emptyAttachment, emptyForm, emptyShift, firstProblem, formFromCode, insertVariable, toBody, utf8Bytes } from './form'

function filled() {
  const form = emptyForm()
  form.name = ' 门店海报 '
  form.channel = '线下门店'
  form.staff = [{ staff_id: 7, weight: 1, daily_cap: 20, is_backup: false, shifts: [emptyShift()] }]
  return form
}

describe('the live code form', () => {
  it('becomes the API body with schedules as ranges and the window only when skip-verify is on', () => {
    const form = filled()
    form.window = true
    const body = toBody(form)
    expect(body.name).toBe('门店海报')
    expect(body.staff[0]).toEqual({
      staff_id: 7,
      weight: 1,
      daily_cap: 20,
      is_backup: false,
      schedule: [{ weekdays: [1, 2, 3, 4, 5], ranges: [['09:00', '18:00']] }],
    })
    expect([body.skip_verify_from, body.skip_verify_to]).toEqual(['09:00', '21:00'])
    form.skip_verify = false
    expect(toBody(form).skip_verify_from).toBeNull()
  })

  it('sends each attachment with only its own payload', () => {
    const form = filled()
    const link = emptyAttachment('link')
    link.title = '会员权益'
    link.url = 'https://example.com'
    form.attachments = [link]
    expect(toBody(form).welcome.attachments).toEqual([
      { msgtype: 'link', link: { title: '会员权益', url: 'https://example.com', desc: null, picurl: null } },
    ])
  })

  it('round-trips a saved code', () => {
    const body = toBody(filled())
    const code = {
      ...body,
      id: 1,
      state: 'lcabc',
      status: 'active',
      staff: body.staff.map((s) => ({ ...s, staff_name: '张三', on_duty: true, adds_today: 0, daily_cap: s.daily_cap ?? null })),
      welcome: { text: null, attachments: [] },
      config_id: 'c',
      qr_code: null,
      synced_at: null,
      sync_error: null,
      adds_today: 0,
      adds_total: 0,
      created_at: '2026-11-23T00:00:00Z',
    } as unknown as Schemas['LiveCodeOut']
    expect(toBody(formFromCode(code)).staff).toEqual(body.staff)
  })

  it('names the first problem before anything is sent', () => {
    expect(firstProblem(emptyForm())?.field).toBe('name')
    const backupsOnly = filled()
    backupsOnly.staff[0].is_backup = true
    expect(firstProblem(backupsOnly)?.key).toBe('liveCodes.errors.primaryRequired')
    const twoPrimaries = filled()
    twoPrimaries.staff.push({ ...twoPrimaries.staff[0], staff_id: 8 })
    expect(firstProblem(twoPrimaries)?.key).toBe('liveCodes.errors.singleOnePrimary')
    twoPrimaries.code_type = 'multi'
    expect(firstProblem(twoPrimaries)).toBeNull()
    const long = filled()
    long.welcome_text = '欢'.repeat(1334)
    expect(utf8Bytes(long.welcome_text)).toBe(4002)
    expect(firstProblem(long)?.field).toBe('welcome.text')
  })

  it('inserts a variable at the cursor', () => {
    expect(insertVariable('您好，', 3, '客户昵称')).toEqual({ text: '您好，{客户昵称}', cursor: 9 })
    expect(insertVariable('abc', 99, '渠道')).toEqual({ text: 'abc{渠道}', cursor: 7 })
  })
})
