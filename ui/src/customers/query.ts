import type { Schemas } from '@/api/client'

/** What the filter bar of the customer list holds. */
export interface ListFilters {
  q: string
  tagIds: number[]
  staffId: number | null
  stage: string
  source: string
  /** [from, to] as YYYY-MM-DD, both inclusive, in China time. */
  created: string[]
  lastOrder: string[]
  lastActive: string[]
  /** One custom field condition: the field's key and the value it must have. */
  customKey: string
  customValue: string | number | null
}

export function emptyFilters(): ListFilters {
  return {
    q: '',
    tagIds: [],
    staffId: null,
    stage: '',
    source: '',
    created: [],
    lastOrder: [],
    lastActive: [],
    customKey: '',
    customValue: null,
  }
}

const dayStart = (day: string | undefined) => (day ? `${day}T00:00:00+08:00` : undefined)
const dayEnd = (day: string | undefined) => (day ? `${day}T23:59:59+08:00` : undefined)

/** `{"key": value}` for the custom field condition, when both are chosen. */
export function customCondition(filters: ListFilters): Record<string, string | number> | undefined {
  const value = typeof filters.customValue === 'string' ? filters.customValue.trim() : filters.customValue
  if (!filters.customKey || value === null || value === '') return undefined
  return { [filters.customKey]: value }
}

/** The query parameters the list, the count and the export take for these filters. */
export function listQuery(filters: ListFilters) {
  const custom = customCondition(filters)
  return {
    q: filters.q.trim() || undefined,
    tag_ids: filters.tagIds.length ? filters.tagIds : undefined,
    staff_id: filters.staffId ?? undefined,
    stage: filters.stage.trim() || undefined,
    source: filters.source.trim() || undefined,
    created_from: dayStart(filters.created[0]),
    created_to: dayEnd(filters.created[1]),
    last_order_from: dayStart(filters.lastOrder[0]),
    last_order_to: dayEnd(filters.lastOrder[1]),
    last_active_from: dayStart(filters.lastActive[0]),
    last_active_to: dayEnd(filters.lastActive[1]),
    custom_fields: custom ? JSON.stringify(custom) : undefined,
  }
}

/** The same filters as the body of a bulk tag change (`POST /tags/batch`). */
export function batchFilter(filters: ListFilters): Schemas['CustomerFilter'] {
  const query = listQuery(filters)
  return {
    q: query.q ?? null,
    tag_ids: query.tag_ids ?? [],
    any_tag_ids: [],
    staff_id: query.staff_id ?? null,
    stage: query.stage ?? null,
    source: query.source ?? null,
    custom_fields: customCondition(filters) ?? {},
    created_from: query.created_from ?? null,
    created_to: query.created_to ?? null,
    last_order_from: query.last_order_from ?? null,
    last_order_to: query.last_order_to ?? null,
    last_active_from: query.last_active_from ?? null,
    last_active_to: query.last_active_to ?? null,
  }
}

/** `?tag_ids=3&tag_ids=5` (or one value) from a route query, ignoring anything not a number. */
export function tagIdsFromQuery(value: unknown): number[] {
  const values = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]
  return values.map((v) => Number(v)).filter((n) => Number.isInteger(n) && n > 0)
}

/** The file name a `Content-Disposition: attachment; filename="…"` header gives. */
export function attachmentName(header: string | null, fallback: string): string {
  const match = header?.match(/filename="?([^";]+)"?/)
  return match?.[1] ?? fallback
}
