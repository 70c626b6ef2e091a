import type { Schemas } from '@/api/client'

type BroadcastIn = Schemas['BroadcastIn']
type BroadcastOut = Schemas['BroadcastOut']
type ContentIn = Schemas['Content']

export type Channel = Schemas['Channel']
export type ScheduleMode = 'now' | 'at' | 'recurring'

export const CHANNELS: Channel[] = ['wecom', 'wecom_group', 'email', 'sms', 'webhook']
/** Why a customer (or, for a group broadcast, a customer group) is left out. */
export const EXCLUSION_REASONS = ['duplicate', 'opted_out', 'no_address', 'no_follow', 'frequency_cap', 'wecom_quota', 'dismissed', 'no_owner'] as const
/** Variables the server fills per recipient; the names are part of the content, never translated. */
export const VARIABLES = ['客户昵称', '员工姓名'] as const
/** A WeCom mass task is one text for all of a staff member's customers: only the sender varies. */
export const WECOM_VARIABLES = ['员工姓名'] as const
export const MAX_WECOM_TEXT_BYTES = 4000
export const MAX_ATTACHMENTS = 9
export const MAX_VARIANTS = 5
export const VARIANT_KEYS = ['A', 'B', 'C', 'D', 'E'] as const
const CRON_FIELD = /^[\d*/,-]+$/

export interface ParamRow {
  key: string
  value: string
}

export interface ContentForm {
  text: string
  subject: string
  html: string
  material_ids: number[]
  poster_id: number | null
  /** Where the poster's QR code leads. */
  poster_url: string
  sign_name: string
  template_code: string
  params: ParamRow[]
  webhook_url: string
  webhook_event: string
}

export interface VariantForm {
  key: string
  percent: number
  content: ContentForm
}

export interface BroadcastForm {
  name: string
  channel: Channel
  segment_id: number | null
  customer_group_ids: number[]
  /** The first variant is the main content; more than one means an A/B test. */
  variants: VariantForm[]
  schedule: ScheduleMode
  /** Local date and time as the date picker gives it: `YYYY-MM-DD HH:mm:ss`. */
  send_at: string
  recurrence: string
  attribution_days: number
}

export interface Problem {
  field: string
  key: string
  params?: Record<string, string | number>
}

export function emptyContent(): ContentForm {
  return {
    text: '',
    subject: '',
    html: '',
    material_ids: [],
    poster_id: null,
    poster_url: '',
    sign_name: '',
    template_code: '',
    params: [],
    webhook_url: '',
    webhook_event: 'broadcast.message',
  }
}

export function emptyForm(): BroadcastForm {
  return {
    name: '',
    channel: 'wecom',
    segment_id: null,
    customer_group_ids: [],
    variants: [{ key: 'A', percent: 100, content: emptyContent() }],
    schedule: 'now',
    send_at: '',
    recurrence: '',
    attribution_days: 7,
  }
}

export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length
}

/** Insert `{name}` at the cursor position; returns the new text and where the cursor goes. */
export function insertVariable(text: string, cursor: number | null, name: string): { text: string; cursor: number } {
  const at = Math.max(0, Math.min(cursor ?? text.length, text.length))
  const token = `{${name}}`
  return { text: text.slice(0, at) + token + text.slice(at), cursor: at + token.length }
}

/** Adds the next variant and splits the audience evenly (the first one takes the remainder). */
export function addVariant(form: BroadcastForm): void {
  if (form.variants.length >= MAX_VARIANTS) return
  const key = VARIANT_KEYS.find((k) => !form.variants.some((v) => v.key === k)) ?? String(form.variants.length + 1)
  form.variants.push({ key, percent: 0, content: emptyContent() })
  evenSplit(form.variants)
}

export function removeVariant(form: BroadcastForm, key: string): void {
  if (form.variants.length <= 1) return
  form.variants = form.variants.filter((v) => v.key !== key)
  evenSplit(form.variants)
}

export function evenSplit(variants: VariantForm[]): void {
  const share = Math.floor(100 / variants.length)
  variants.forEach((v, i) => {
    v.percent = i === 0 ? 100 - share * (variants.length - 1) : share
  })
}

/** With two variants the slider sets A's share and B takes the rest. */
export function setSplit(variants: VariantForm[], percentA: number): void {
  if (variants.length !== 2) return
  const a = Math.max(1, Math.min(99, Math.round(percentA)))
  variants[0].percent = a
  variants[1].percent = 100 - a
}

/** Null when the shares are valid, else why not. */
export function splitProblem(variants: VariantForm[]): Problem | null {
  if (variants.length <= 1) return null
  if (variants.some((v) => !Number.isInteger(v.percent) || v.percent < 1 || v.percent > 100)) {
    return { field: 'variants', key: 'broadcasts.errors.percentRange' }
  }
  const total = variants.reduce((sum, v) => sum + v.percent, 0)
  if (total !== 100) return { field: 'variants', key: 'broadcasts.errors.percentSum', params: { total } }
  return null
}

/** The i18n key of an exclusion (or failure) reason, falling back to the raw code for unknown ones. */
export function reasonKey(reason: string): string | null {
  return (EXCLUSION_REASONS as readonly string[]).includes(reason) ? `broadcasts.reasons.${reason}` : null
}

export interface ReasonRow {
  reason: string
  count: number
}

/** Reasons with their counts, largest first; zero counts are left out. */
export function reasonRows(excluded: Record<string, number> | null | undefined): ReasonRow[] {
  return Object.entries(excluded ?? {})
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason))
}

export function isWecom(channel: Channel): boolean {
  return channel === 'wecom' || channel === 'wecom_group'
}

/** The audience picker the channel uses. */
export function audienceKind(channel: Channel): 'segment' | 'groups' {
  return channel === 'wecom_group' ? 'groups' : 'segment'
}

/** What the eligibility preview is asked, or null while no audience is picked. */
export function eligibilityQuery(
  form: Pick<BroadcastForm, 'channel' | 'segment_id' | 'customer_group_ids'>,
): Schemas['EligibilityIn'] | null {
  if (audienceKind(form.channel) === 'groups') {
    return form.customer_group_ids.length ? { channel: form.channel, segment_id: null, customer_group_ids: [...form.customer_group_ids] } : null
  }
  return form.segment_id !== null ? { channel: form.channel, segment_id: form.segment_id, customer_group_ids: null } : null
}

function orNull(value: string): string | null {
  const trimmed = value.trim()
  return trimmed === '' ? null : trimmed
}

/** Fields with a server default are typed as required; the server fills what we leave out. */
function sparse(content: Partial<ContentIn>): ContentIn {
  return content as ContentIn
}

/** One content form as the API's `Content`: only the fields the channel uses. */
export function contentBody(channel: Channel, content: ContentForm): ContentIn {
  switch (channel) {
    case 'wecom':
    case 'wecom_group':
      return sparse({
        text: orNull(content.text),
        material_ids: [...content.material_ids],
        poster_id: content.poster_id,
        poster_url: content.poster_id === null ? null : orNull(content.poster_url),
      })
    case 'email':
      return sparse({ subject: orNull(content.subject), html: orNull(content.html), text: orNull(content.text) })
    case 'sms':
      return sparse({
        sms: {
          sign_name: content.sign_name.trim(),
          template_code: content.template_code.trim(),
          params: Object.fromEntries(
            content.params.filter((p) => p.key.trim() !== '').map((p) => [p.key.trim(), p.value]),
          ),
        },
      })
    case 'webhook':
      return {
        text: orNull(content.text),
        webhook_url: orNull(content.webhook_url),
        webhook_event: content.webhook_event.trim() || 'broadcast.message',
      }
  }
}

/** `YYYY-MM-DD HH:mm(:ss)` in the browser's time zone → ISO 8601 UTC; null when unparseable. */
export function localToIso(local: string): string | null {
  const trimmed = local.trim()
  if (!/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$/.test(trimmed)) return null
  const parsed = new Date(trimmed.replace(' ', 'T'))
  return Number.isNaN(parsed.getTime()) ? null : parsed.toISOString()
}

function pad(n: number): string {
  return String(n).padStart(2, '0')
}

/** ISO 8601 → `YYYY-MM-DD HH:mm:ss` in the browser's time zone, as the date picker shows it. */
export function isoToLocal(iso: string | null | undefined): string {
  if (!iso) return ''
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return ''
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
}

/** Five cron fields (minute hour day month weekday), each digits, `*`, `/`, `,` or `-`. */
export function looksLikeCron(text: string): boolean {
  const fields = text.trim().split(/\s+/)
  return fields.length === 5 && fields.every((f) => CRON_FIELD.test(f))
}

/** The form as the API's request body. */
export function toBody(form: BroadcastForm): BroadcastIn {
  const [main] = form.variants
  const groups = audienceKind(form.channel) === 'groups'
  return {
    name: form.name.trim(),
    channel: form.channel,
    segment_id: groups ? null : form.segment_id,
    customer_group_ids: groups ? [...form.customer_group_ids] : null,
    content: contentBody(form.channel, main.content),
    variants:
      form.variants.length > 1
        ? form.variants.map((v) => ({ key: v.key, percent: v.percent, content: contentBody(form.channel, v.content) }))
        : null,
    send_at: form.schedule === 'at' ? localToIso(form.send_at) : null,
    recurrence: form.schedule === 'recurring' ? orNull(form.recurrence) : null,
    attribution_days: form.attribution_days,
  }
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

/** A JSON object of the API's free-form content, or an empty one. */
function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value)) : {}
}

function contentForm(raw: Record<string, unknown> | null | undefined): ContentForm {
  const content = raw ?? {}
  const sms = record(content.sms)
  return {
    text: str(content.text),
    subject: str(content.subject),
    html: str(content.html),
    material_ids: Array.isArray(content.material_ids) ? content.material_ids.filter((id): id is number => typeof id === 'number') : [],
    poster_id: typeof content.poster_id === 'number' ? content.poster_id : null,
    poster_url: str(content.poster_url),
    sign_name: str(sms.sign_name),
    template_code: str(sms.template_code),
    params: Object.entries(record(sms.params)).map(([key, value]) => ({ key, value: str(value) })),
    webhook_url: str(content.webhook_url),
    webhook_event: str(content.webhook_event) || 'broadcast.message',
  }
}

/** A saved broadcast as the editable form. */
export function formFromBroadcast(broadcast: BroadcastOut): BroadcastForm {
  const variants = (broadcast.variants ?? []).map((v) => ({
    key: str(v.key),
    percent: typeof v.percent === 'number' ? v.percent : 0,
    content: record(v.content),
  }))
  return {
    name: broadcast.name,
    channel: broadcast.channel as Channel,
    segment_id: broadcast.segment_id ?? null,
    customer_group_ids: [...(broadcast.customer_group_ids ?? [])],
    variants: variants.length
      ? variants.map((v) => ({ key: v.key, percent: v.percent, content: contentForm(v.content) }))
      : [{ key: 'A', percent: 100, content: contentForm(broadcast.content) }],
    schedule: broadcast.recurrence ? 'recurring' : broadcast.send_at ? 'at' : 'now',
    send_at: isoToLocal(broadcast.send_at),
    recurrence: broadcast.recurrence ?? '',
    attribution_days: broadcast.attribution_days,
  }
}

function contentProblem(channel: Channel, content: ContentForm, field: string): Problem | null {
  switch (channel) {
    case 'wecom':
    case 'wecom_group':
      if (!content.text.trim() && content.material_ids.length === 0 && content.poster_id === null) {
        return { field: `${field}.text`, key: 'broadcasts.errors.wecomEmpty' }
      }
      if (utf8Bytes(content.text) > MAX_WECOM_TEXT_BYTES) {
        return { field: `${field}.text`, key: 'broadcasts.errors.textTooLong', params: { max: MAX_WECOM_TEXT_BYTES } }
      }
      if (content.material_ids.length + (content.poster_id === null ? 0 : 1) > MAX_ATTACHMENTS) {
        return { field: `${field}.material_ids`, key: 'broadcasts.errors.tooManyAttachments', params: { max: MAX_ATTACHMENTS } }
      }
      if (content.text.includes('{客户昵称}')) {
        return { field: `${field}.text`, key: 'broadcasts.errors.wecomCustomerName' }
      }
      if (content.poster_id !== null && !/^https?:\/\/\S+$/.test(content.poster_url.trim())) {
        return { field: `${field}.poster_url`, key: 'broadcasts.errors.posterUrl' }
      }
      return null
    case 'email':
      if (!content.subject.trim()) return { field: `${field}.subject`, key: 'broadcasts.errors.subjectRequired' }
      if (!content.html.trim() && !content.text.trim()) return { field: `${field}.html`, key: 'broadcasts.errors.bodyRequired' }
      return null
    case 'sms':
      if (!content.sign_name.trim()) return { field: `${field}.sms.sign_name`, key: 'broadcasts.errors.signRequired' }
      if (!content.template_code.trim()) return { field: `${field}.sms.template_code`, key: 'broadcasts.errors.templateRequired' }
      if (new Set(content.params.map((p) => p.key.trim())).size !== content.params.length || content.params.some((p) => !p.key.trim())) {
        return { field: `${field}.sms.params`, key: 'broadcasts.errors.paramKeys' }
      }
      return null
    case 'webhook':
      if (!/^https?:\/\/\S+$/.test(content.webhook_url.trim())) {
        return { field: `${field}.webhook_url`, key: 'broadcasts.errors.webhookUrl' }
      }
      return null
  }
}

/** Problems that block saving a draft: a name, and nothing the API would refuse outright. */
export function draftProblem(form: BroadcastForm): Problem | null {
  if (!form.name.trim()) return { field: 'name', key: 'broadcasts.errors.nameRequired' }
  return splitProblem(form.variants)
}

/** Per step: the first problem that blocks moving on (0 audience, 1 content, 2 schedule). */
export function stepProblem(form: BroadcastForm, step: number, now: Date = new Date()): Problem | null {
  if (step === 0) {
    if (!form.name.trim()) return { field: 'name', key: 'broadcasts.errors.nameRequired' }
    if (audienceKind(form.channel) === 'groups' ? form.customer_group_ids.length === 0 : form.segment_id === null) {
      return { field: 'audience', key: 'broadcasts.errors.audienceRequired' }
    }
    return null
  }
  if (step === 1) {
    for (const [i, variant] of form.variants.entries()) {
      const problem = contentProblem(form.channel, variant.content, form.variants.length > 1 ? `variants.${i}.content` : 'content')
      if (problem) return { ...problem, params: { ...problem.params, variant: variant.key } }
    }
    return splitProblem(form.variants)
  }
  if (step === 2) {
    if (form.schedule === 'at') {
      const iso = localToIso(form.send_at)
      if (!iso) return { field: 'send_at', key: 'broadcasts.errors.sendAtRequired' }
      if (new Date(iso).getTime() <= now.getTime()) return { field: 'send_at', key: 'broadcasts.errors.sendAtPast' }
    }
    if (form.schedule === 'recurring' && !looksLikeCron(form.recurrence)) {
      return { field: 'recurrence', key: 'broadcasts.errors.cron' }
    }
    if (!Number.isInteger(form.attribution_days) || form.attribution_days < 1 || form.attribution_days > 90) {
      return { field: 'attribution_days', key: 'broadcasts.errors.attribution' }
    }
  }
  return null
}

/** The first problem that blocks sending, with the step it is on. */
export function sendProblem(form: BroadcastForm, now: Date = new Date()): (Problem & { step: number }) | null {
  for (const step of [0, 1, 2]) {
    const problem = stepProblem(form, step, now)
    if (problem) return { ...problem, step }
  }
  return null
}
