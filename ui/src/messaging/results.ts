import type { EChartsCoreOption } from 'echarts/core'

export type BroadcastStatus =
  | 'draft'
  | 'scheduled'
  | 'planning'
  | 'sending'
  | 'waiting'
  | 'paused'
  | 'completed'
  | 'cancelled'
  | 'failed'

export type Action = 'edit' | 'delete' | 'pause' | 'resume' | 'cancel' | 'remind'

export const STATUSES: BroadcastStatus[] = [
  'draft',
  'scheduled',
  'planning',
  'sending',
  'waiting',
  'paused',
  'completed',
  'cancelled',
  'failed',
]
export const DELIVERY_STATUSES = ['excluded', 'pending', 'sending', 'sent', 'delivered', 'failed', 'cancelled'] as const
export const FUNNEL_STAGES = ['planned', 'sent', 'delivered', 'clicked', 'converted'] as const
/** While a broadcast is in one of these, its results page refreshes itself. */
export const LIVE_STATUSES: ReadonlySet<string> = new Set(['planning', 'sending', 'waiting'])
export const REFRESH_MS = 3000

type Theme = 'default' | 'primary' | 'success' | 'warning' | 'danger'

const THEMES: Record<string, Theme> = {
  draft: 'default',
  scheduled: 'primary',
  planning: 'warning',
  sending: 'warning',
  waiting: 'warning',
  paused: 'default',
  completed: 'success',
  cancelled: 'default',
  failed: 'danger',
  // deliveries
  excluded: 'default',
  pending: 'default',
  sent: 'primary',
  delivered: 'success',
}

export function statusTheme(status: string): Theme {
  return THEMES[status] ?? 'default'
}

/** What a user may do to a broadcast in this status, in the order the buttons show. */
export function allowedActions(status: string, channel: string): Action[] {
  const actions: Action[] = []
  if (status === 'draft' || status === 'scheduled') actions.push('edit')
  if (status === 'scheduled' || status === 'sending') actions.push('pause')
  if (status === 'paused') actions.push('resume')
  if (status === 'waiting' && (channel === 'wecom' || channel === 'wecom_group')) actions.push('remind')
  if (['scheduled', 'planning', 'sending', 'waiting', 'paused'].includes(status)) actions.push('cancel')
  if (['draft', 'completed', 'cancelled', 'failed'].includes(status)) actions.push('delete')
  return actions
}

/** Actions that cannot be undone or stop a send; they ask before they act. */
export function needsConfirm(action: Action): boolean {
  return action !== 'edit'
}

export interface Counts {
  planned: number
  excluded: number
  pending: number
  sending: number
  sent: number
  delivered: number
  failed: number
  cancelled: number
  clicked: number
  converted: number
  converted_fen: number
}

/** `part / whole` as a percentage with one decimal, or '—' when nothing to divide by. */
export function rate(part: number, whole: number): string {
  if (!whole) return '—'
  return `${((part / whole) * 100).toFixed(1)}%`
}

export function funnelOption(counts: Counts, labels: Record<(typeof FUNNEL_STAGES)[number], string>): EChartsCoreOption {
  const stages = [...FUNNEL_STAGES].reverse()
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: stages.map((s) => labels[s]) },
    series: [
      {
        type: 'bar',
        data: stages.map((s) => counts[s]),
        label: { show: true, position: 'right' },
        itemStyle: { color: '#0052d9' },
        barMaxWidth: 28,
      },
    ],
  }
}

/** A horizontal bar per reason; `label` turns a reason code into words. */
export function reasonsOption(
  byReason: Record<string, number>,
  label: (reason: string) => string,
  color: string,
): EChartsCoreOption | null {
  const rows = Object.entries(byReason)
    .filter(([, n]) => n > 0)
    .sort((a, b) => a[1] - b[1])
  if (rows.length === 0) return null
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: rows.map(([reason]) => label(reason)) },
    series: [
      { type: 'bar', data: rows.map(([, n]) => n), label: { show: true, position: 'right' }, itemStyle: { color }, barMaxWidth: 24 },
    ],
  }
}

export interface GroupRow {
  key: string
  label: string
  counts: Counts
}

/** Per-staff or per-variant rows flattened for a table, with delivery and click rates. */
export function groupTableRows(groups: GroupRow[]): Record<string, string | number>[] {
  return groups.map((g) => ({
    key: g.key,
    label: g.label,
    planned: g.counts.planned,
    sent: g.counts.sent,
    delivered: g.counts.delivered,
    failed: g.counts.failed,
    clicked: g.counts.clicked,
    converted: g.counts.converted,
    converted_fen: g.counts.converted_fen,
    delivery_rate: rate(g.counts.delivered, g.counts.sent),
    click_rate: rate(g.counts.clicked, g.counts.delivered || g.counts.sent),
    conversion_rate: rate(g.counts.converted, g.counts.delivered || g.counts.sent),
  }))
}
