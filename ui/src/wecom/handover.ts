import type { Schemas } from '@/api/client'

export type Transfer = Schemas['TransferOut']
export type Candidate = Schemas['HandoverCandidateOut']
export type GroupTransfer = Schemas['GroupTransferOut']
export type GroupCandidate = Schemas['GroupHandoverCandidateOut']
export type HandoverKind = 'onjob' | 'resigned'

/** WeCom takes at most 100 customers (or groups) a request; Siyu splits bigger handovers. */
export const PER_REQUEST = 100
/** WeCom hands at most 300 groups of one owner to new owners a day. */
export const GROUPS_PER_DAY = 300
export const FINAL = new Set(['refused', 'failed', 'done', 'customer_refused', 'takeover_limit', 'no_record'])

export function isFinal(transfer: { status: string }): boolean {
  return FINAL.has(transfer.status)
}

export function requestsNeeded(count: number): number {
  return Math.ceil(count / PER_REQUEST)
}

/** The customers to hand over: every eligible one, or the eligible ones among those picked. */
export function chosen(candidates: Candidate[], mode: 'all' | 'selected', picked: string[]): string[] {
  const wanted = new Set(picked)
  return candidates
    .filter((c) => c.eligible && (mode === 'all' || wanted.has(c.external_userid)))
    .map((c) => c.external_userid)
}

/** The groups to hand over: every eligible one, or the eligible ones among those picked. */
export function chosenGroups(candidates: GroupCandidate[], mode: 'all' | 'selected', picked: string[]): string[] {
  const wanted = new Set(picked)
  return candidates.filter((c) => c.eligible && (mode === 'all' || wanted.has(c.chat_id))).map((c) => c.chat_id)
}

export function statusTheme(status: string): 'success' | 'warning' | 'danger' | 'default' {
  if (status === 'done') return 'success'
  if (status === 'pending' || status === 'waiting') return 'warning'
  return FINAL.has(status) ? 'danger' : 'default'
}

/** Transfers by status, for the summary above the table. */
export function tally(transfers: { status: string }[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const transfer of transfers) counts[transfer.status] = (counts[transfer.status] ?? 0) + 1
  return counts
}
