import type { Schemas } from '@/api/client'

type DayCount = Schemas['DayCount']

export interface StatsLabels {
  adds: string
  losses: string
}

/** Line chart of adds and losses per day; the axis shows month-day. */
export function addsOption(days: DayCount[], labels: StatsLabels) {
  return {
    tooltip: { trigger: 'axis' },
    legend: { data: [labels.adds, labels.losses], top: 0 },
    grid: { left: 40, right: 24, top: 36, bottom: 28 },
    xAxis: { type: 'category', boundaryGap: false, data: days.map((d) => d.day.slice(5)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [
      { name: labels.adds, type: 'line', smooth: true, areaStyle: { opacity: 0.08 }, data: days.map((d) => d.adds) },
      { name: labels.losses, type: 'line', smooth: true, data: days.map((d) => d.losses) },
    ],
  }
}

/** 0.8567 -> "85.7%"; no eligible adds yet -> "—". */
export function percent(rate: number | null | undefined): string {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)}%`
}
