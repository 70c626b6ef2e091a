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
}

export function emptyFilters(): ListFilters {
  return { q: '', tagIds: [], staffId: null, stage: '', source: '', created: [] }
}

/** The query parameters the list, the count and the export take for these filters. */
export function listQuery(filters: ListFilters) {
  return {
    q: filters.q.trim() || undefined,
    tag_ids: filters.tagIds.length ? filters.tagIds : undefined,
    staff_id: filters.staffId ?? undefined,
    stage: filters.stage.trim() || undefined,
    source: filters.source.trim() || undefined,
    created_from: filters.created[0] ? `${filters.created[0]}T00:00:00+08:00` : undefined,
    created_to: filters.created[1] ? `${filters.created[1]}T23:59:59+08:00` : undefined,
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
    custom_fields: {},
    created_from: query.created_from ?? null,
    created_to: query.created_to ?? null,
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
