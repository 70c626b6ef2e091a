import { describe, expect, it } from 'vitest'
import { growthOption, percent } from './insights'

describe('insights charts', () => {
  it('sums the growth series per day and draws losses below the axis', () => {
    const option = growthOption(
      {
        days: ['2026-11-23', '2026-11-24'],
        by: 'channel',
        series: [
          { group: '天猫', new: [1, 2], lost: [0, 1], net: [1, 1] },
          { group: '门店', new: [0, 3], lost: [1, 0], net: [-1, 3] },
        ],
        total_new: 6,
        total_lost: 2,
        total_net: 4,
      },
      { new: 'new', lost: 'lost', net: 'net' },
    )
    expect(option.xAxis.data).toEqual(['11-23', '11-24'])
    expect(option.series.map((s) => s.data)).toEqual([
      [1, 5],
      [-1, -1],
      [0, 4],
    ])
  })

  it('formats retention and leaves future months blank', () => {
    expect(percent(0.1234)).toBe('12.3%')
    expect(percent(null)).toBe('')
  })
})
