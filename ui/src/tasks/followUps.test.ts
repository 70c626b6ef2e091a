import { describe, expect, it } from 'vitest'
import { FOLLOW_UP_MAX, followUpProblem } from './followUps'

describe('followUpProblem', () => {
  it('refuses blank notes', () => {
    expect(followUpProblem('')).toBe('bodyEmpty')
    expect(followUpProblem('  \n\t ')).toBe('bodyEmpty')
  })

  it('counts characters, not UTF-16 units, after trimming', () => {
    expect(followUpProblem('长'.repeat(FOLLOW_UP_MAX))).toBeNull()
    expect(followUpProblem(`  ${'长'.repeat(FOLLOW_UP_MAX)}  `)).toBeNull()
    expect(followUpProblem('长'.repeat(FOLLOW_UP_MAX + 1))).toBe('tooLong')
    expect(followUpProblem('😀'.repeat(FOLLOW_UP_MAX))).toBeNull()
  })

  it('accepts an ordinary note', () => {
    expect(followUpProblem('电话回访，约周五到店')).toBeNull()
  })
})
