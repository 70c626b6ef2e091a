import { describe, expect, it } from 'vitest'
import { percent, pollJob, type Job } from './jobs'

function job(status: string, done: number, total: number | null): Job {
  return {
    id: 1,
    name: 'tags.batch',
    status,
    attempts: 1,
    progress_done: done,
    progress_total: total,
    result: null,
    error: null,
    created_at: '2026-11-23T00:00:00Z',
    finished_at: null,
  }
}

describe('job progress', () => {
  it('polls until the job finishes and reports every state', async () => {
    const states = [job('queued', 0, null), job('running', 200, 500), job('succeeded', 500, 500)]
    const seen: string[] = []
    const waits: number[] = []
    const final = await pollJob(
      async () => states.shift()!,
      (j) => seen.push(`${j.status}:${j.progress_done}`),
      { intervalMs: 250, sleep: async (ms) => void waits.push(ms) },
    )
    expect(final?.status).toBe('succeeded')
    expect(seen).toEqual(['queued:0', 'running:200', 'succeeded:500'])
    expect(waits).toEqual([250, 250])
  })

  it('treats a dead job as finished', async () => {
    const final = await pollJob(async () => job('dead', 3, 10), () => undefined, { sleep: async () => undefined })
    expect(final?.status).toBe('dead')
  })

  it('stops when the caller gives up', async () => {
    let calls = 0
    const final = await pollJob(
      async () => {
        calls += 1
        return job('running', 1, 10)
      },
      () => undefined,
      { stopped: () => calls >= 2, sleep: async () => undefined },
    )
    expect(final).toBeNull()
    expect(calls).toBe(2)
  })

  it('computes a percentage only when the total is known', () => {
    expect(percent({ progress_done: 1, progress_total: 3 })).toBe(33)
    expect(percent({ progress_done: 5, progress_total: null })).toBeNull()
    expect(percent({ progress_done: 9, progress_total: 3 })).toBe(100)
  })
})
