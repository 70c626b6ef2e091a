import { describe, expect, it } from 'vitest'
import { moved } from './ordering'

describe('moving a tag or group', () => {
  it('swaps with the neighbour above or below', () => {
    expect(moved([1, 2, 3], 1, -1)).toEqual([2, 1, 3])
    expect(moved([1, 2, 3], 1, 1)).toEqual([1, 3, 2])
  })

  it('refuses to move past either end and leaves the input alone', () => {
    const items = [1, 2, 3]
    expect(moved(items, 0, -1)).toBeNull()
    expect(moved(items, 2, 1)).toBeNull()
    expect(items).toEqual([1, 2, 3])
  })
})
