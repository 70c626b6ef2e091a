import type { Schemas } from '@/api/client'

type LiveCode = Schemas['LiveCodeOut']
type LiveCodeIn = Schemas['LiveCodeIn']
type AttachmentIn = Schemas['AttachmentIn']

export type CodeType = Schemas['CodeType']
export type Rotation = Schemas['Rotation']
export type MsgType = AttachmentIn['msgtype']

export const VARIABLES = ['客户昵称', '员工姓名', '渠道'] as const
export const MAX_WELCOME_BYTES = 4000
export const MAX_ATTACHMENTS = 9

export interface ShiftRow {
  weekdays: number[]
  start: string
  end: string
}

export interface StaffRow {
  staff_id: number | null
  weight: number
  daily_cap: number | null
  is_backup: boolean
  shifts: ShiftRow[]
}

export interface AttachmentRow {
  msgtype: MsgType
  media_id: string
  pic_url: string
  title: string
  url: string
  desc: string
  picurl: string
  appid: string
  page: string
  pic_media_id: string
}

export interface CodeForm {
  name: string
  channel: string
  code_type: CodeType
  rotation: Rotation
  staff: StaffRow[]
  skip_verify: boolean
  window: boolean
  skip_verify_from: string
  skip_verify_to: string
  daily_cap: number | null
  remark_template: string
  welcome_text: string
  attachments: AttachmentRow[]
  tag_ids: number[]
}

export function emptyStaff(): StaffRow {
  return { staff_id: null, weight: 1, daily_cap: null, is_backup: false, shifts: [] }
}

export function emptyShift(): ShiftRow {
  return { weekdays: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }
}

export function emptyAttachment(msgtype: MsgType): AttachmentRow {
  return { msgtype, media_id: '', pic_url: '', title: '', url: '', desc: '', picurl: '', appid: '', page: '', pic_media_id: '' }
}

export function emptyForm(): CodeForm {
  return {
    name: '',
    channel: '',
    code_type: 'single',
    rotation: 'round_robin',
    staff: [emptyStaff()],
    skip_verify: true,
    window: false,
    skip_verify_from: '09:00',
    skip_verify_to: '21:00',
    daily_cap: null,
    remark_template: '',
    welcome_text: '',
    attachments: [],
    tag_ids: [],
  }
}

function attachmentRow(attachment: AttachmentIn): AttachmentRow {
  const row = emptyAttachment(attachment.msgtype)
  const body = attachment[attachment.msgtype] as Record<string, string | null | undefined> | null | undefined
  for (const [key, value] of Object.entries(body ?? {})) {
    if (key in row && typeof value === 'string') (row as unknown as Record<string, string>)[key] = value
  }
  return row
}

/** A saved code as the editable form. */
export function formFromCode(code: LiveCode): CodeForm {
  return {
    name: code.name,
    channel: code.channel,
    code_type: code.code_type,
    rotation: code.rotation,
    staff: code.staff.map((s) => ({
      staff_id: s.staff_id,
      weight: s.weight,
      daily_cap: s.daily_cap,
      is_backup: s.is_backup,
      shifts: s.schedule.flatMap((shift) =>
        shift.ranges.map(([start, end]) => ({ weekdays: [...shift.weekdays], start, end })),
      ),
    })),
    skip_verify: code.skip_verify,
    window: code.skip_verify_from !== null,
    skip_verify_from: code.skip_verify_from ?? '09:00',
    skip_verify_to: code.skip_verify_to ?? '21:00',
    daily_cap: code.daily_cap,
    remark_template: code.remark_template ?? '',
    welcome_text: code.welcome.text ?? '',
    attachments: (code.welcome.attachments ?? []).map(attachmentRow),
    tag_ids: [...code.tag_ids],
  }
}

function orNull(value: string): string | null {
  const trimmed = value.trim()
  return trimmed === '' ? null : trimmed
}

export function attachmentBody(row: AttachmentRow): AttachmentIn {
  switch (row.msgtype) {
    case 'image':
      return { msgtype: 'image', image: { media_id: orNull(row.media_id), pic_url: orNull(row.pic_url) } }
    case 'link':
      return {
        msgtype: 'link',
        link: { title: row.title.trim(), url: row.url.trim(), desc: orNull(row.desc), picurl: orNull(row.picurl) },
      }
    case 'miniprogram':
      return {
        msgtype: 'miniprogram',
        miniprogram: { title: row.title.trim(), pic_media_id: row.pic_media_id.trim(), appid: row.appid.trim(), page: row.page.trim() },
      }
    default:
      return { msgtype: 'file', file: { media_id: row.media_id.trim() } }
  }
}

/** The form as the API's request body. */
export function toBody(form: CodeForm): LiveCodeIn {
  return {
    name: form.name.trim(),
    channel: form.channel.trim(),
    code_type: form.code_type,
    rotation: form.rotation,
    staff: form.staff
      .filter((s) => s.staff_id !== null)
      .map((s) => ({
        staff_id: s.staff_id as number,
        weight: s.weight,
        daily_cap: s.daily_cap,
        is_backup: s.is_backup,
        schedule: s.shifts.map((shift) => ({ weekdays: [...shift.weekdays].sort(), ranges: [[shift.start, shift.end]] })),
      })),
    skip_verify: form.skip_verify,
    skip_verify_from: form.skip_verify && form.window ? form.skip_verify_from : null,
    skip_verify_to: form.skip_verify && form.window ? form.skip_verify_to : null,
    daily_cap: form.daily_cap,
    remark_template: orNull(form.remark_template),
    welcome: { text: orNull(form.welcome_text), attachments: form.attachments.map(attachmentBody) },
    tag_ids: [...form.tag_ids],
  }
}

export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length
}

/** The first problem the console can see before saving: the field and an i18n key. */
export function firstProblem(form: CodeForm): { field: string; key: string } | null {
  if (!form.name.trim()) return { field: 'name', key: 'liveCodes.errors.nameRequired' }
  if (!form.channel.trim()) return { field: 'channel', key: 'liveCodes.errors.channelRequired' }
  const chosen = form.staff.filter((s) => s.staff_id !== null)
  const primaries = chosen.filter((s) => !s.is_backup)
  if (primaries.length === 0) return { field: 'staff', key: 'liveCodes.errors.primaryRequired' }
  if (form.code_type === 'single' && primaries.length > 1) return { field: 'staff', key: 'liveCodes.errors.singleOnePrimary' }
  if (new Set(chosen.map((s) => s.staff_id)).size !== chosen.length) return { field: 'staff', key: 'liveCodes.errors.duplicateStaff' }
  for (const s of chosen) {
    for (const shift of s.shifts) {
      if (shift.weekdays.length === 0 || shift.start >= shift.end) return { field: 'staff', key: 'liveCodes.errors.badShift' }
    }
  }
  if (utf8Bytes(form.welcome_text) > MAX_WELCOME_BYTES) return { field: 'welcome.text', key: 'liveCodes.errors.textTooLong' }
  if (form.attachments.length > MAX_ATTACHMENTS) return { field: 'welcome.attachments', key: 'liveCodes.errors.tooManyAttachments' }
  return null
}

/** Insert `{name}` at the cursor position; returns the new text and cursor. */
export function insertVariable(text: string, cursor: number, name: string): { text: string; cursor: number } {
  const at = Math.max(0, Math.min(cursor, text.length))
  const token = `{${name}}`
  return { text: text.slice(0, at) + token + text.slice(at), cursor: at + token.length }
}
