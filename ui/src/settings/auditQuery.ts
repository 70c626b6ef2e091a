export interface AuditFilters {
  /** `user:<id>` or `api_key:<id>`, or empty for everyone. */
  actor: string
  action: string
  targetType: string
  targetId: string
  /** Local calendar days `YYYY-MM-DD`, both included; empty strings for no bound. */
  range: [string, string] | []
}

export interface AuditQuery {
  actor?: string
  action?: string
  target_type?: string
  target_id?: string
  since?: string
  until?: string
}

function startOfLocalDay(day: string): Date {
  const [year, month, date] = day.split('-').map(Number)
  return new Date(year, month - 1, date)
}

/**
 * The audit-log query for the filters: blank fields are left out, and the day range
 * becomes [since, until) instants in UTC, from the first day's local midnight to the
 * midnight after the last day, so the last day is included whole.
 */
export function auditQuery(filters: AuditFilters): AuditQuery {
  const query: AuditQuery = {}
  const text = (value: string) => value.trim() || undefined
  query.actor = text(filters.actor)
  query.action = text(filters.action)
  query.target_type = text(filters.targetType)
  query.target_id = text(filters.targetId)
  const [first, last] = filters.range
  if (first) query.since = startOfLocalDay(first).toISOString()
  if (last) {
    const end = startOfLocalDay(last)
    end.setDate(end.getDate() + 1)
    query.until = end.toISOString()
  }
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined)) as AuditQuery
}
