import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { auditQuery } from './auditQuery'

const EMPTY = { actor: '', action: '', targetType: '', targetId: '', range: [] as [] }

describe('auditQuery', () => {
  let zone: string | undefined
  beforeEach(() => {
    zone = process.env.TZ
  })
  afterEach(() => {
    process.env.TZ = zone
  })

  it('leaves blank filters out', () => {
    expect(auditQuery(EMPTY)).toEqual({})
    expect(auditQuery({ ...EMPTY, action: '  ', actor: 'user:3', targetId: ' 42 ' })).toEqual({ actor: 'user:3', target_id: '42' })
  })

  it('turns a day range into since/until instants covering the last day whole', () => {
    const query = auditQuery({ ...EMPTY, range: ['2025-03-01', '2025-03-02'] })
    const since = new Date(query.since ?? '')
    const until = new Date(query.until ?? '')
    expect(since.getFullYear()).toBe(2025)
    expect([since.getMonth(), since.getDate(), since.getHours()]).toEqual([2, 1, 0])
    expect([until.getMonth(), until.getDate(), until.getHours()]).toEqual([2, 3, 0])
    expect(query.since?.endsWith('Z')).toBe(true)
  })

  it('crosses month ends', () => {
    const until = new Date(auditQuery({ ...EMPTY, range: ['2025-01-31', '2025-02-28'] }).until ?? '')
    expect([until.getMonth(), until.getDate()]).toEqual([2, 1])
  })
})
