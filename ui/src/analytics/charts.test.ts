import { describe, expect, it } from 'vitest'
import { hasActivity, platformOption, shortDay, trendOption } from './charts'

const labels = { newCustomers: '新增客户', orders: '订单', gmv: 'GMV' }
const trend = [
  { day: '2026-11-22', new_customers: 2, orders: 1, gmv_fen: 12345 },
  { day: '2026-11-23', new_customers: 0, orders: 0, gmv_fen: 0 },
]

describe('dashboard charts', () => {
  it('labels days by month and day', () => {
    expect(shortDay('2026-11-03')).toBe('11-03')
  })

  it('draws GMV in yuan on the second axis and counts on the first', () => {
    const option = trendOption(trend, labels)
    expect(option.xAxis.data).toEqual(['11-22', '11-23'])
    expect(option.series.map((s) => s.data)).toEqual([
      [2, 0],
      [1, 0],
      [123.45, 0],
    ])
    expect(option.series[2]).toMatchObject({ name: 'GMV', yAxisIndex: 1 })
  })

  it('names platforms and converts fen to yuan for the bar chart', () => {
    const option = platformOption([{ platform: 'jd', orders: 3, gmv_fen: 500 }], (p) => `P:${p}`, 'GMV')
    expect(option.xAxis.data).toEqual(['P:jd'])
    expect(option.series[0]?.data).toEqual([5])
  })

  it('knows an all-zero trend has nothing to draw', () => {
    expect(hasActivity(trend)).toBe(true)
    expect(hasActivity([trend[1]!])).toBe(false)
  })
})
