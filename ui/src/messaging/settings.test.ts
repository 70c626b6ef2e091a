import { describe, expect, it } from 'vitest'
import { accountBody, accountForm, accountProblem, canTest, checkView, rulesBody, rulesForm, rulesProblem } from './settings'

describe('channel accounts', () => {
  it('read a saved SMTP account and never echo its secret', () => {
    const form = accountForm('email', {
      channel: 'email',
      config: { host: 'smtp.example.com', port: 465, security: 'tls', username: 'u', from_address: 'a@example.com', from_name: '思域' },
      has_secret: true,
      enabled: true,
      updated_at: null,
    })
    expect(form).toMatchObject({ host: 'smtp.example.com', port: 465, security: 'tls', has_secret: true, secret: '' })
    expect(accountBody(form)).toEqual({
      config: { host: 'smtp.example.com', port: 465, security: 'tls', username: 'u', from_address: 'a@example.com', from_name: '思域' },
      secret: null,
      enabled: true,
    })
    form.secret = 'new-password'
    expect(accountBody(form).secret).toBe('new-password')
  })

  it('need a host and a valid sender for email', () => {
    const form = accountForm('email', undefined)
    expect(form.port).toBe(587)
    expect(accountProblem(form)?.key).toBe('broadcasts.settingsPage.errors.hostRequired')
    form.host = 'smtp.example.com'
    form.from_address = 'not an address'
    expect(accountProblem(form)?.key).toBe('broadcasts.settingsPage.errors.fromAddress')
    form.from_address = 'shop@example.com'
    expect(accountProblem(form)).toBeNull()
  })

  it('need a key id and a secret for SMS the first time, only the key id after', () => {
    const form = accountForm('sms', undefined)
    form.access_key_id = 'LTAI'
    expect(accountProblem(form)?.key).toBe('broadcasts.settingsPage.errors.secretRequired')
    form.has_secret = true
    expect(accountProblem(form)).toBeNull()
    expect(accountBody(form).config).toEqual({ base_url: '', access_key_id: 'LTAI' })
  })

  it('send only the secret for a webhook', () => {
    const form = accountForm('webhook', undefined)
    expect(accountProblem(form)?.key).toBe('broadcasts.settingsPage.errors.secretRequired')
    form.secret = 's3cret'
    expect(accountBody(form)).toEqual({ config: {}, secret: 's3cret', enabled: true })
  })

  it('test a webhook only with an http(s) URL to ping, which is saved with the account', () => {
    const form = accountForm('webhook', { channel: 'webhook', config: { url: 'https://hooks.example.com/a' }, has_secret: true, enabled: true, updated_at: null })
    expect(form.url).toBe('https://hooks.example.com/a')
    expect(canTest(form)).toBe(true)
    expect(accountBody(form).config).toEqual({ url: 'https://hooks.example.com/a' })
    form.url = 'hooks.example.com'
    expect(canTest(form)).toBe(false)
    expect(accountProblem(form)).toMatchObject({ field: 'url', key: 'broadcasts.settingsPage.errors.webhookUrl' })
    expect(canTest(accountForm('email', undefined))).toBe(true)
  })
})

describe('account checks', () => {
  it("show the server's own words, with the provider's code only when the check failed", () => {
    expect(checkView({ ok: true, message: '阿里云短信账号可用，共 2 个签名', code: null }, '连接成功')).toEqual({
      ok: true,
      message: '阿里云短信账号可用，共 2 个签名',
      code: null,
    })
    expect(checkView({ ok: false, message: '用户名或密码错误', code: '535' }, '连接成功')).toEqual({
      ok: false,
      message: '用户名或密码错误',
      code: '535',
    })
    expect(checkView({ ok: true, message: ' ' }, '连接成功').message).toBe('连接成功')
  })
})

describe('messaging rules', () => {
  it('round-trip quiet hours, caps per channel and the WeCom quota', () => {
    const rules = {
      quiet_hours: { start: '22:00', end: '08:00' },
      frequency_caps: { email: { max_messages: 2, days: 7 } },
      wecom_quota: 'week' as const,
      wecom_calls_per_minute: 600,
      email_open_tracking: false,
    }
    const form = rulesForm(rules)
    expect(form.caps.find((c) => c.channel === 'email')).toMatchObject({ enabled: true, max_messages: 2 })
    expect(form.caps.find((c) => c.channel === 'sms')?.enabled).toBe(false)
    expect(rulesBody(form)).toEqual(rules)
    form.quiet = false
    expect(rulesBody(form).quiet_hours).toBeNull()
    form.wecom_limited = false
    expect(rulesBody(form).wecom_calls_per_minute).toBeNull()
    expect(rulesForm({ ...rules, wecom_calls_per_minute: null }).wecom_limited).toBe(false)
    expect(rulesForm(null).email_open_tracking).toBe(true)
  })

  it('refuse malformed times, an empty window and out-of-range caps', () => {
    const form = rulesForm(null)
    expect(form.quiet).toBe(false)
    form.quiet = true
    form.quiet_start = '25:00'
    expect(rulesProblem(form)?.key).toBe('broadcasts.settingsPage.errors.time')
    form.quiet_start = form.quiet_end
    expect(rulesProblem(form)?.key).toBe('broadcasts.settingsPage.errors.quietEmpty')
    form.quiet = false
    form.caps[0].enabled = true
    form.caps[0].days = 0
    expect(rulesProblem(form)?.key).toBe('broadcasts.settingsPage.errors.capDays')
    form.caps[0].enabled = false
    form.wecom_limited = true
    form.wecom_calls_per_minute = 20_000
    expect(rulesProblem(form)?.key).toBe('broadcasts.settingsPage.errors.wecomCalls')
    form.wecom_calls_per_minute = 600
    expect(rulesProblem(form)).toBeNull()
  })
})
