import type { Schemas } from '@/api/client'

export type Transfer = Schemas['TransferOut']
export type Candidate = Schemas['HandoverCandidateOut']
export type HandoverKind = 'onjob' | 'resigned'

/** WeCom takes at most 100 customers a request; Siyu splits bigger handovers. */
export const PER_REQUEST = 100
export const FINAL = new Set(['refused', 'failed', 'done', 'customer_refused', 'takeover_limit', 'no_record'])

export function isFinal(transfer: Transfer): boolean {
  return FINAL.has(transfer.status)
}

export function requestsNeeded(customers: number): number {
  return Math.ceil(customers / PER_REQUEST)
}

/** The customers to hand over: every eligible one, or the eligible ones among those picked. */
export function chosen(candidates: Candidate[], mode: 'all' | 'selected', picked: string[]): string[] {
  const wanted = new Set(picked)
  return candidates
    .filter((c) => c.eligible && (mode === 'all' || wanted.has(c.external_userid)))
    .map((c) => c.external_userid)
}

export function statusTheme(status: string): 'success' | 'warning' | 'danger' | 'default' {
  if (status === 'done') return 'success'
  if (status === 'pending' || status === 'waiting') return 'warning'
  return FINAL.has(status) ? 'danger' : 'default'
}

/** Transfers by status, for the summary above the table. */
export function tally(transfers: Transfer[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const transfer of transfers) counts[transfer.status] = (counts[transfer.status] ?? 0) + 1
  return counts
}
