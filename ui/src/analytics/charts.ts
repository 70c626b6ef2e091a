import type { Schemas } from '@/api/client'

type TrendDay = Schemas['TrendDay']
type PlatformSales = Schemas['PlatformSales']

export interface Labels {
  newCustomers: string
  orders: string
  gmv: string
}

/** "2026-11-23" -> "11-23": the axis shows month and day only. */
export function shortDay(day: string): string {
  return day.slice(5)
}

/** Line chart: new customers and orders per day (left axis), GMV in yuan (right axis). */
export function trendOption(trend: TrendDay[], labels: Labels) {
  return {
    tooltip: { trigger: 'axis' },
    legend: { data: [labels.newCustomers, labels.orders, labels.gmv], top: 0 },
    grid: { left: 48, right: 64, top: 36, bottom: 28 },
    xAxis: { type: 'category', boundaryGap: false, data: trend.map((d) => shortDay(d.day)) },
    yAxis: [
      { type: 'value', minInterval: 1 },
      { type: 'value', axisLabel: { formatter: '¥{value}' } },
    ],
    series: [
      { name: labels.newCustomers, type: 'line', smooth: true, data: trend.map((d) => d.new_customers) },
      { name: labels.orders, type: 'line', smooth: true, data: trend.map((d) => d.orders) },
      {
        name: labels.gmv,
        type: 'line',
        smooth: true,
        yAxisIndex: 1,
        areaStyle: { opacity: 0.08 },
        data: trend.map((d) => d.gmv_fen / 100),
      },
    ],
  }
}

/** Bar chart: GMV in yuan per platform, platforms named through `platformName`. */
export function platformOption(sales: PlatformSales[], platformName: (code: string) => string, gmvLabel: string) {
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 64, right: 24, top: 16, bottom: 28 },
    xAxis: { type: 'category', data: sales.map((s) => platformName(s.platform)) },
    yAxis: { type: 'value', axisLabel: { formatter: '¥{value}' } },
    series: [{ name: gmvLabel, type: 'bar', barMaxWidth: 40, data: sales.map((s) => s.gmv_fen / 100) }],
  }
}

/** Whether the trend has anything to draw. */
export function hasActivity(trend: TrendDay[]): boolean {
  return trend.some((d) => d.new_customers > 0 || d.orders > 0 || d.gmv_fen > 0)
}
