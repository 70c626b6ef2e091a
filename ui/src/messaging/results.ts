import type { EChartsCoreOption } from 'echarts/core'
import type { Schemas } from '@/api/client'

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
export const FUNNEL_STAGES = ['planned', 'sent', 'delivered', 'opened', 'clicked', 'converted'] as const
export type FunnelStage = (typeof FUNNEL_STAGES)[number]
/** Channels whose provider reports delivery (SMS receipts); the others end at "sent". */
export const RECEIPT_CHANNELS: ReadonlySet<string> = new Set(['sms'])
/** Channels whose opens are seen (an email's open pixel); elsewhere only clicks are. */
export const OPEN_CHANNELS: ReadonlySet<string> = new Set(['email'])
const WECOM_CHANNELS: ReadonlySet<string> = new Set(['wecom', 'wecom_group'])
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

/** A delivery's status is one at a time: a delivered row no longer counts as sent. */
export interface Counts {
  planned: number
  excluded: number
  pending: number
  sending: number
  sent: number
  delivered: number
  failed: number
  cancelled: number
  /** Deliveries seen read: an email's open pixel was fetched, or one of its links clicked. */
  opened: number
  clicked: number
  converted: number
  converted_fen: number
}

/** Handed to the provider (sent, and delivered if it reported so). */
export function reached(counts: Counts): number {
  return counts.sent + counts.delivered
}

/** Share of the planned deliveries that reached an outcome, 0–100. */
export function progress(counts: Counts): number {
  if (!counts.planned) return 0
  const done = reached(counts) + counts.failed + counts.cancelled
  return Math.min(100, Math.round((done / counts.planned) * 100))
}

export interface FunnelStep {
  stage: FunnelStage
  value: number
  /** Of the stage before, e.g. '85.0%'; null for the first. */
  ofPrevious: string | null
}

/** The funnel of this channel: "delivered" only where receipts exist, "opened" where opens are seen. */
export function funnelSteps(counts: Counts, channel: string): FunnelStep[] {
  const values: [FunnelStage, number | undefined][] = [
    ['planned', counts.planned],
    ['sent', reached(counts)],
    ['delivered', RECEIPT_CHANNELS.has(channel) ? counts.delivered : undefined],
    ['opened', OPEN_CHANNELS.has(channel) ? counts.opened : undefined],
    ['clicked', counts.clicked],
    ['converted', counts.converted],
  ]
  const steps: FunnelStep[] = []
  for (const [stage, value] of values) {
    if (value === undefined) continue
    const previous = steps.at(-1)
    steps.push({ stage, value, ofPrevious: previous ? rate(value, previous.value) : null })
  }
  return steps
}

/** Simulated staff can confirm a WeCom broadcast's waiting tasks, in demo mode only. */
export function canSimulateConfirm(
  demo: boolean,
  channel: string,
  status: string,
  tasks: { status: string; msgid: string | null }[],
): boolean {
  return demo && WECOM_CHANNELS.has(channel) && status === 'waiting' && tasks.some((task) => task.status === 'waiting' && task.msgid)
}

/** `part / whole` as a percentage with one decimal, or '—' when nothing to divide by. */
export function rate(part: number, whole: number): string {
  if (!whole) return '—'
  return `${((part / whole) * 100).toFixed(1)}%`
}

export function funnelOption(steps: FunnelStep[], label: (stage: FunnelStage) => string): EChartsCoreOption {
  const top = [...steps].reverse()
  return {
    // redrawn every few seconds while sending: bars must not grow from zero each time
    animation: false,
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 8, right: 96, top: 8, bottom: 8, containLabel: true },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: top.map((s) => label(s.stage)) },
    series: [
      {
        type: 'bar',
        data: top.map((s) => ({
          value: s.value,
          label: { formatter: s.ofPrevious ? `${s.value.toLocaleString()} · ${s.ofPrevious}` : s.value.toLocaleString() },
        })),
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
    // redrawn every few seconds while sending: bars must not grow from zero each time
    animation: false,
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

/** Per-staff or per-variant rows flattened for a table, with delivery, open and click rates. */
export function groupTableRows(groups: GroupRow[]): Record<string, string | number>[] {
  return groups.map((g) => {
    const sent = reached(g.counts)
    return {
      key: g.key,
      label: g.label,
      planned: g.counts.planned,
      waiting: g.counts.pending + g.counts.sending,
      sent,
      delivered: g.counts.delivered,
      failed: g.counts.failed,
      opened: g.counts.opened,
      clicked: g.counts.clicked,
      converted: g.counts.converted,
      converted_fen: g.counts.converted_fen,
      delivery_rate: rate(g.counts.delivered, sent),
      open_rate: rate(g.counts.opened, sent),
      click_rate: rate(g.counts.clicked, sent),
      conversion_rate: rate(g.counts.converted, sent),
    }
  })
}

export type ReasonLabel = Schemas['ReasonLabel']

/** The i18n key of a reason label (every `ReasonLabel` the server has is one). */
export function reasonLabelKey(label: ReasonLabel): string {
  return `broadcasts.reasons.${label}`
}

/**
 * A reason code in words: its label, with the code beside it when the label names the
 * code's family (smtp_550 is "smtp_5xx"); the bare code when the server gave no label.
 */
export function reasonText(code: string, labels: Partial<Record<string, ReasonLabel>>, translate: (key: string) => string): string {
  const label = labels[code]
  if (!label) return code
  const words = translate(reasonLabelKey(label))
  return label === code ? words : `${words} (${code})`
}

export interface CountRow {
  key: string
  count: number
}

/** Counts per key, largest first, zeros left out. */
export function countRows(byKey: Record<string, number>): CountRow[] {
  return Object.entries(byKey)
    .filter(([, count]) => count > 0)
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key))
}

/** Deliveries waiting for another try, whatever their reason. */
export function waitingTotal(byReason: Record<string, number>): number {
  return Object.values(byReason).reduce((sum, n) => sum + n, 0)
}
