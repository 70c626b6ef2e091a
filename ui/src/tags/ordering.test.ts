import { describe, expect, it } from 'vitest'
import { moved, movedTo } from './ordering'

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

describe('dragging a tag or group to another place', () => {
  it('moves the dragged item to the drop position, down or up', () => {
    expect(movedTo(['a', 'b', 'c', 'd'], 0, 2)).toEqual(['b', 'c', 'a', 'd'])
    expect(movedTo(['a', 'b', 'c', 'd'], 3, 1)).toEqual(['a', 'd', 'b', 'c'])
  })

  it('does nothing when dropped on itself or outside the list', () => {
    expect(movedTo([1, 2], 1, 1)).toBeNull()
    expect(movedTo([1, 2], 0, 5)).toBeNull()
    expect(movedTo([1, 2], -1, 0)).toBeNull()
  })
})
