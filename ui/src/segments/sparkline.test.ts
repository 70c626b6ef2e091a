import { describe, expect, it } from 'vitest'
import { sparkline } from './sparkline'

describe('size trend sparkline', () => {
  it('spans the width and puts the highest value at the top', () => {
    expect(sparkline([0, 10], 100, 20)).toBe('0.0,19.0 100.0,1.0')
  })

  it('draws nothing without values and a flat line for one', () => {
    expect(sparkline([])).toBe('')
    expect(sparkline([5], 10, 10)).toBe('0.0,9.0')
  })
})
