import type { Schemas } from '@/api/client'

export type LostCustomer = Schemas['LostCustomerOut']

export interface LostFilters {
  staffId: number | null
  deletedBy: 'customer' | 'staff' | 'unknown' | null
  range: string[] // [since, until] as YYYY-MM-DD, or empty
}

/** The query of GET /wecom/lost-customers: the date range covers whole days. */
export function lostQuery(filters: LostFilters): {
  staff_id?: number
  deleted_by?: 'customer' | 'staff' | 'unknown'
  since?: string
  until?: string
} {
  const query: ReturnType<typeof lostQuery> = {}
  if (filters.staffId !== null) query.staff_id = filters.staffId
  if (filters.deletedBy !== null) query.deleted_by = filters.deletedBy
  const [since, until] = filters.range
  if (since) query.since = new Date(`${since}T00:00:00`).toISOString()
  if (until) {
    const end = new Date(`${until}T00:00:00`)
    end.setDate(end.getDate() + 1)
    query.until = end.toISOString()
  }
  return query
}

function cell(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value
}

/** The rows as CSV (with a BOM so Excel reads the Chinese), headers as given. */
export function lostCsv(rows: LostCustomer[], headers: string[], deletedBy: (value: string) => string): string {
  const lines = [headers.map(cell).join(',')]
  for (const row of rows) {
    lines.push(
      [
        row.occurred_at,
        row.customer_name ?? String(row.customer_id),
        String(row.customer_id),
        row.staff_name ?? String(row.staff_id),
        deletedBy(row.deleted_by),
        row.detected_by,
      ]
        .map(cell)
        .join(','),
    )
  }
  return `\uFEFF${lines.join('\r\n')}\r\n`
}
