import type { Schemas } from '@/api/client'

export type SyncRun = Schemas['SyncRunOut']

/** The phases of a run in order; `done` is the end. */
export const PHASES = ['departments', 'members', 'tags', 'contacts', 'groups', 'finish'] as const

export function isRunning(run: SyncRun | null | undefined): boolean {
  return run?.status === 'queued' || run?.status === 'running'
}

/** 0–100: whole phases done plus the share of the current phase the job reported. */
export function percent(run: SyncRun): number {
  if (run.status === 'succeeded') return 100
  const index = PHASES.indexOf(run.phase as (typeof PHASES)[number])
  if (index < 0) return run.phase === 'done' ? 100 : 0
  const total = run.progress_total ?? 0
  const within = total > 0 ? Math.min(1, (run.progress_done ?? 0) / total) : 0
  return Math.round(((index + within) / PHASES.length) * 100)
}

/** Seconds between start and finish (or now, for a run still going). */
export function durationSeconds(run: SyncRun, now: Date = new Date()): number {
  const end = run.finished_at ? new Date(run.finished_at) : now
  return Math.max(0, Math.round((end.getTime() - new Date(run.started_at).getTime()) / 1000))
}

export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600)
  const m = Math.floor((seconds % 3600) / 60)
  const s = seconds % 60
  if (h) return `${h}h ${m}m`
  if (m) return `${m}m ${s}s`
  return `${s}s`
}

export function outcomeTheme(status: string): 'success' | 'warning' | 'danger' | 'primary' {
  if (status === 'succeeded') return 'success'
  if (status === 'failed') return 'danger'
  return status === 'running' ? 'primary' : 'warning'
}

/** A run's counts or fixes as sorted [entity, number] pairs (non-zero only). */
export function entries(counts: Record<string, unknown>): [string, number][] {
  return Object.entries(counts)
    .map(([key, value]): [string, number] => [key, Number(value) || 0])
    .filter(([, value]) => value !== 0)
    .sort(([a], [b]) => a.localeCompare(b))
}
