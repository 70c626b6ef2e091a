import type { Schemas } from '@/api/client'
import type { Channel, Problem } from './compose'

type ChannelAccountOut = Schemas['ChannelAccountOut']
type ChannelAccountIn = Schemas['ChannelAccountIn']
type MessagingRules = Schemas['MessagingRules']
type AccountCheck = Schemas['AccountCheck']
type FrequencyCap = Schemas['FrequencyCap']

/** Channels whose account is configured here (WeCom uses the WeCom connection). */
export const ACCOUNT_CHANNELS = ['email', 'sms', 'webhook'] as const
export type AccountChannel = (typeof ACCOUNT_CHANNELS)[number]
export const SECURITIES = ['none', 'starttls', 'tls'] as const
export type Security = (typeof SECURITIES)[number]
export const CAP_CHANNELS: Channel[] = ['wecom', 'wecom_group', 'email', 'sms', 'webhook']
export const WECOM_QUOTAS = ['days_of_month', 'week', 'day'] as const
/** WeCom's own limit per API and corp (calls a minute), and what a capped corp starts from. */
export const MAX_WECOM_CALLS = 10_000
const DEFAULT_WECOM_CALLS = 1000
const TIME = /^([01]\d|2[0-3]):[0-5]\d$/
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const HTTP_URL = /^https?:\/\/\S+$/

export interface AccountForm {
  channel: AccountChannel
  enabled: boolean
  has_secret: boolean
  /** Typed by the user; empty keeps the stored secret. */
  secret: string
  host: string
  port: number
  security: Security
  username: string
  from_address: string
  from_name: string
  base_url: string
  access_key_id: string
  /** Webhook: where the connection test posts, and broadcasts without their own URL. */
  url: string
}

function str(value: unknown, fallback = ''): string {
  return typeof value === 'string' ? value : fallback
}

export function accountForm(channel: AccountChannel, saved: ChannelAccountOut | undefined): AccountForm {
  const config = saved?.config ?? {}
  const security = str(config.security, 'starttls')
  return {
    channel,
    enabled: saved?.enabled ?? true,
    has_secret: saved?.has_secret ?? false,
    secret: '',
    host: str(config.host),
    port: typeof config.port === 'number' ? config.port : 587,
    security: (SECURITIES as readonly string[]).includes(security) ? (security as Security) : 'starttls',
    username: str(config.username),
    from_address: str(config.from_address),
    from_name: str(config.from_name),
    base_url: str(config.base_url),
    access_key_id: str(config.access_key_id),
    url: str(config.url),
  }
}

/** The form as the API's body; the secret is sent only when the user typed one. */
export function accountBody(form: AccountForm): ChannelAccountIn {
  let config: Record<string, unknown> = {}
  if (form.channel === 'email') {
    config = {
      host: form.host.trim(),
      port: form.port,
      security: form.security,
      username: form.username.trim(),
      from_address: form.from_address.trim(),
      from_name: form.from_name.trim(),
    }
  } else if (form.channel === 'sms') {
    config = { base_url: form.base_url.trim(), access_key_id: form.access_key_id.trim() }
  } else if (form.url.trim()) {
    config = { url: form.url.trim() }
  }
  return { config, secret: form.secret === '' ? null : form.secret, enabled: form.enabled }
}

export function accountProblem(form: AccountForm): Problem | null {
  if (form.channel === 'email') {
    if (!form.host.trim()) return { field: 'host', key: 'broadcasts.settingsPage.errors.hostRequired' }
    if (!Number.isInteger(form.port) || form.port < 1 || form.port > 65535) {
      return { field: 'port', key: 'broadcasts.settingsPage.errors.port' }
    }
    if (!EMAIL.test(form.from_address.trim())) return { field: 'from_address', key: 'broadcasts.settingsPage.errors.fromAddress' }
  }
  if (form.channel === 'sms') {
    if (form.base_url.trim() && !HTTP_URL.test(form.base_url.trim())) {
      return { field: 'base_url', key: 'broadcasts.settingsPage.errors.baseUrl' }
    }
    if (!form.access_key_id.trim()) return { field: 'access_key_id', key: 'broadcasts.settingsPage.errors.accessKeyRequired' }
    if (!form.has_secret && !form.secret) return { field: 'secret', key: 'broadcasts.settingsPage.errors.secretRequired' }
  }
  if (form.channel === 'webhook') {
    if (form.url.trim() && !HTTP_URL.test(form.url.trim())) return { field: 'url', key: 'broadcasts.settingsPage.errors.webhookUrl' }
    if (!form.has_secret && !form.secret) return { field: 'secret', key: 'broadcasts.settingsPage.errors.secretRequired' }
  }
  return null
}

/** The connection test needs somewhere to post a webhook ping; email and SMS always test. */
export function canTest(form: AccountForm): boolean {
  return form.channel !== 'webhook' || HTTP_URL.test(form.url.trim())
}

export interface CheckView {
  ok: boolean
  message: string
  /** The provider's error code when the check failed (e.g. SMTP 535, isv.SMS_SIGNATURE_ILLEGAL). */
  code: string | null
}

/** What the server said about the account, as the page shows it. */
export function checkView(check: AccountCheck, fallback: string): CheckView {
  return { ok: check.ok, message: check.message.trim() || fallback, code: check.ok ? null : (check.code ?? null) }
}

export interface CapRow {
  channel: Channel
  enabled: boolean
  max_messages: number
  days: number
}

export interface RulesForm {
  quiet: boolean
  quiet_start: string
  quiet_end: string
  caps: CapRow[]
  wecom_quota: (typeof WECOM_QUOTAS)[number]
  /** Cap broadcasts' calls a minute of each WeCom API (other tools share WeCom's 10,000). */
  wecom_limited: boolean
  wecom_calls_per_minute: number
  /** A 1×1 image in each email tells when it was first opened. */
  email_open_tracking: boolean
}

export function rulesForm(rules: MessagingRules | null | undefined): RulesForm {
  const caps: Partial<Record<string, FrequencyCap>> = rules?.frequency_caps ?? {}
  const quota = rules?.wecom_quota ?? 'days_of_month'
  return {
    quiet: Boolean(rules?.quiet_hours),
    quiet_start: rules?.quiet_hours?.start ?? '21:00',
    quiet_end: rules?.quiet_hours?.end ?? '08:00',
    caps: CAP_CHANNELS.map((channel) => {
      const cap = caps[channel]
      return { channel, enabled: Boolean(cap), max_messages: cap?.max_messages ?? 1, days: cap?.days ?? 7 }
    }),
    wecom_quota: (WECOM_QUOTAS as readonly string[]).includes(quota) ? (quota as RulesForm['wecom_quota']) : 'days_of_month',
    wecom_limited: typeof rules?.wecom_calls_per_minute === 'number',
    wecom_calls_per_minute: rules?.wecom_calls_per_minute ?? DEFAULT_WECOM_CALLS,
    email_open_tracking: rules?.email_open_tracking ?? true,
  }
}

export function rulesBody(form: RulesForm): MessagingRules {
  return {
    quiet_hours: form.quiet ? { start: form.quiet_start, end: form.quiet_end } : null,
    frequency_caps: Object.fromEntries(
      form.caps.filter((c) => c.enabled).map((c) => [c.channel, { max_messages: c.max_messages, days: c.days }]),
    ),
    wecom_quota: form.wecom_quota,
    wecom_calls_per_minute: form.wecom_limited ? form.wecom_calls_per_minute : null,
    email_open_tracking: form.email_open_tracking,
  }
}

export function rulesProblem(form: RulesForm): Problem | null {
  if (form.quiet) {
    if (!TIME.test(form.quiet_start) || !TIME.test(form.quiet_end)) {
      return { field: 'quiet_hours', key: 'broadcasts.settingsPage.errors.time' }
    }
    if (form.quiet_start === form.quiet_end) return { field: 'quiet_hours', key: 'broadcasts.settingsPage.errors.quietEmpty' }
  }
  for (const cap of form.caps) {
    if (!cap.enabled) continue
    if (!Number.isInteger(cap.max_messages) || cap.max_messages < 1 || cap.max_messages > 1000) {
      return { field: `frequency_caps.${cap.channel}`, key: 'broadcasts.settingsPage.errors.capMessages' }
    }
    if (!Number.isInteger(cap.days) || cap.days < 1 || cap.days > 365) {
      return { field: `frequency_caps.${cap.channel}`, key: 'broadcasts.settingsPage.errors.capDays' }
    }
  }
  if (form.wecom_limited) {
    const calls = form.wecom_calls_per_minute
    if (!Number.isInteger(calls) || calls < 1 || calls > MAX_WECOM_CALLS) {
      return { field: 'wecom_calls_per_minute', key: 'broadcasts.settingsPage.errors.wecomCalls' }
    }
  }
  return null
}
