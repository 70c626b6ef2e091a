import { describe, expect, it } from 'vitest'
import { addsOption, percent } from './stats'

describe('live code statistics', () => {
  it('charts adds and losses per day on a month-day axis', () => {
    const option = addsOption(
      [
        { day: '2026-11-22', adds: 3, losses: 0 },
        { day: '2026-11-23', adds: 5, losses: 1 },
      ],
      { adds: '添加', losses: '流失' },
    )
    expect(option.xAxis.data).toEqual(['11-22', '11-23'])
    expect(option.series.map((s) => s.data)).toEqual([
      [3, 5],
      [0, 1],
    ])
  })

  it('shows retention as a percentage, or a dash before any add is old enough', () => {
    expect(percent(0.8567)).toBe('85.7%')
    expect(percent(null)).toBe('—')
  })
})
