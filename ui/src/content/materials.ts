import type { Schemas } from '@/api/client'

export type MaterialKind = Schemas['MaterialKind']
export type PosterElement = Schemas['PosterElement']
export type PosterElementKind = PosterElement['kind']

export const KINDS: MaterialKind[] = ['text', 'image', 'link', 'miniprogram', 'file', 'video', 'poster']
export const ELEMENT_KINDS: PosterElementKind[] = ['qr', 'avatar', 'name', 'staff_name']

const MB = 1024 * 1024

interface Slot {
  extensions: string[]
  maxBytes: number
}

/** What each kind's file slot accepts: the server checks the same (and the content). */
export const FILE_SLOTS: Partial<Record<MaterialKind, Slot>> = {
  image: { extensions: ['jpg', 'jpeg', 'png'], maxBytes: 10 * MB },
  poster: { extensions: ['jpg', 'jpeg', 'png'], maxBytes: 10 * MB },
  video: { extensions: ['mp4'], maxBytes: 10 * MB },
  file: { extensions: ['pdf', 'doc', 'docx', 'ppt', 'pptx', 'xls', 'xlsx'], maxBytes: 20 * MB },
}
export const COVER_SLOT: Slot = { extensions: ['jpg', 'jpeg', 'png'], maxBytes: 2 * MB }
export const WITH_COVER: MaterialKind[] = ['link', 'miniprogram']

export function slotOf(kind: MaterialKind, part: 'file' | 'cover'): Slot | null {
  return part === 'cover' ? (WITH_COVER.includes(kind) ? COVER_SLOT : null) : (FILE_SLOTS[kind] ?? null)
}

/** The `accept` attribute of a file input for this slot. */
export function acceptOf(kind: MaterialKind, part: 'file' | 'cover'): string {
  return (slotOf(kind, part)?.extensions ?? []).map((e) => `.${e}`).join(',')
}

export type FileProblem = { key: 'wrongType'; allowed: string } | { key: 'tooLarge'; mb: number }

/** Why this file does not fit the slot (null when it fits), checked before uploading. */
export function fileProblem(kind: MaterialKind, part: 'file' | 'cover', file: { name: string; size: number }): FileProblem | null {
  const slot = slotOf(kind, part)
  if (!slot) return null
  const extension = file.name.includes('.') ? file.name.split('.').pop()!.toLowerCase() : ''
  if (!slot.extensions.includes(extension)) return { key: 'wrongType', allowed: slot.extensions.map((e) => `.${e}`).join(' ') }
  if (file.size > slot.maxBytes) return { key: 'tooLarge', mb: slot.maxBytes / MB }
  return null
}

export interface MaterialFields {
  title: string
  description?: string
  material_group_id?: number | null
  tags?: string[]
  content?: string
  url?: string
  appid?: string
  page_path?: string
}

/** The multipart body of POST /materials: the fields the kind uses, its file and cover. */
export function materialForm(kind: MaterialKind, fields: MaterialFields, file?: File | null, cover?: File | null): FormData {
  const form = new FormData()
  form.append('kind', kind)
  form.append('title', fields.title.trim())
  if (fields.description?.trim()) form.append('description', fields.description.trim())
  if (fields.material_group_id) form.append('material_group_id', String(fields.material_group_id))
  for (const tag of fields.tags ?? []) if (tag.trim()) form.append('tags', tag.trim())
  const own: Record<MaterialKind, (keyof MaterialFields)[]> = {
    text: ['content'],
    link: ['url'],
    miniprogram: ['appid', 'page_path'],
    image: [],
    file: [],
    video: [],
    poster: [],
  }
  for (const name of own[kind]) {
    const value = fields[name]
    if (typeof value === 'string' && value.trim()) form.append(name, value.trim())
  }
  if (file && slotOf(kind, 'file')) form.append('file', file)
  if (cover && slotOf(kind, 'cover')) form.append('cover', cover)
  return form
}

export function formatSize(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return ''
  if (bytes < 1024) return `${bytes} B`
  if (bytes < MB) return `${(bytes / 1024).toFixed(1)} KB`
  return `${(bytes / MB).toFixed(1)} MB`
}

/** A new element placed in the middle of a background of this size. */
export function newElement(kind: PosterElementKind, width: number, height: number): PosterElement {
  const side = Math.max(8, Math.round(Math.min(width, height) / 4))
  const text = kind === 'name' || kind === 'staff_name'
  const size = text ? Math.max(8, Math.round(width / 2)) : side
  const fontSize = text ? Math.max(8, Math.min(400, Math.round(side / 4))) : 28
  const element: PosterElement = {
    kind,
    x: Math.round((width - size) / 2),
    y: Math.round((height - (text ? fontSize : size)) / 2),
    size,
    font_size: fontSize,
    color: '#000000',
    align: 'left',
  }
  return clampElement(element, width, height)
}

/** The element moved and shrunk to lie inside the background (what the server requires). */
interface ElementBox {
  kind: PosterElementKind
  x: number
  y: number
  size: number
  font_size?: number
}

export function clampElement<T extends ElementBox>(element: T, width: number, height: number): T {
  const text = element.kind === 'name' || element.kind === 'staff_name'
  const size = Math.max(8, Math.round(Math.min(element.size, text ? width : Math.min(width, height))))
  const fontSize = Math.max(8, Math.round(Math.min(element.font_size ?? 28, height, 400)))
  const w = size
  const h = text ? fontSize : size
  return {
    ...element,
    size,
    font_size: fontSize,
    x: Math.max(0, Math.min(Math.round(element.x), width - w)),
    y: Math.max(0, Math.min(Math.round(element.y), height - h)),
  }
}

/** Call `run` once calls stop coming for `ms` milliseconds. */
export function debounce<A extends unknown[]>(run: (...args: A) => void, ms: number): ((...args: A) => void) & { cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | null = null
  const call = (...args: A): void => {
    if (timer) clearTimeout(timer)
    timer = setTimeout(() => {
      timer = null
      run(...args)
    }, ms)
  }
  call.cancel = () => {
    if (timer) clearTimeout(timer)
    timer = null
  }
  return call
}
