import type { Schemas } from '@/api/client'

export type Job = Schemas['JobOut']

const FINISHED = new Set(['succeeded', 'dead', 'cancelled'])

export function finished(job: Job): boolean {
  return FINISHED.has(job.status)
}

/** Done / total as a whole percentage, or null while the total is unknown. */
export function percent(job: Pick<Job, 'progress_done' | 'progress_total'>): number | null {
  if (!job.progress_total) return null
  return Math.min(100, Math.floor((job.progress_done * 100) / job.progress_total))
}

/**
 * Fetch the job every `intervalMs` until it is finished, reporting each state; resolves
 * with the finished job. `stopped()` lets the caller give up (a closed dialog).
 */
export interface PollOptions {
  intervalMs?: number
  stopped?: () => boolean
  sleep?: (ms: number) => Promise<void>
}

export async function pollJob(
  fetchJob: () => Promise<Job>,
  onUpdate: (job: Job) => void,
  { intervalMs = 1000, stopped = () => false, sleep = defaultSleep }: PollOptions = {},
): Promise<Job | null> {
  for (;;) {
    const job = await fetchJob()
    onUpdate(job)
    if (finished(job)) return job
    if (stopped()) return null
    await sleep(intervalMs)
    if (stopped()) return null
  }
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
