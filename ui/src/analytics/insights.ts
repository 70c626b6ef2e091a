/** ECharts options of the insights pages (pure, so they are tested without a browser). */
import type { Schemas } from '@/api/client'

type Rfm = Schemas['RfmOut']
type Growth = Schemas['GrowthOut']
type Band = Schemas['BandOut']

export function rfmOption(rfm: Rfm, label: (cls: string) => string) {
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 110, right: 24, top: 12, bottom: 24 },
    xAxis: { type: 'value', minInterval: 1 },
    yAxis: { type: 'category', data: rfm.classes.map((c) => label(c.rfm_class)), inverse: true },
    series: [{ type: 'bar', barMaxWidth: 24, data: rfm.classes.map((c) => c.customers) }],
  }
}

export function growthOption(growth: Growth, names: { new: string; lost: string; net: string }) {
  const sum = (pick: (s: Growth['series'][number]) => number[]) =>
    growth.days.map((_, i) => growth.series.reduce((total, s) => total + (pick(s)[i] ?? 0), 0))
  return {
    tooltip: { trigger: 'axis' },
    legend: { data: [names.new, names.lost, names.net], top: 0 },
    grid: { left: 48, right: 24, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: growth.days.map((d) => d.slice(5)) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [
      { name: names.new, type: 'bar', stack: 'flow', data: sum((s) => s.new) },
      { name: names.lost, type: 'bar', stack: 'flow', data: sum((s) => s.lost).map((v) => -v) },
      { name: names.net, type: 'line', smooth: true, data: sum((s) => s.net) },
    ],
  }
}

export function bandsOption(bands: Band[]) {
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 56, right: 24, top: 12, bottom: 28 },
    xAxis: { type: 'category', data: bands.map((b) => b.label) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [{ type: 'bar', barMaxWidth: 40, data: bands.map((b) => b.customers) }],
  }
}

export function categoryBars(labels: string[], values: number[]) {
  return {
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    grid: { left: 64, right: 24, top: 12, bottom: 28 },
    xAxis: { type: 'category', data: labels },
    yAxis: { type: 'value' },
    series: [{ type: 'bar', barMaxWidth: 40, data: values }],
  }
}

/** Retention as a percentage cell, blank for months that have not happened yet. */
export function percent(value: number | null | undefined): string {
  return value === null || value === undefined ? '' : `${(value * 100).toFixed(1)}%`
}

export interface QualityBucket {
  repeat_purchases: number | string
  customers: number
  actual: number
  predicted: number
}

/** Calibration vs hold-out: mean actual and predicted hold-out purchases per repeat-purchase count. */
export function qualityOption(buckets: QualityBucket[], actual: string, predicted: string) {
  return {
    tooltip: { trigger: 'axis' },
    legend: { data: [actual, predicted], top: 0 },
    grid: { left: 48, right: 24, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: buckets.map((b) => String(b.repeat_purchases)) },
    yAxis: { type: 'value' },
    series: [
      { name: actual, type: 'bar', barMaxWidth: 24, data: buckets.map((b) => b.actual) },
      { name: predicted, type: 'line', data: buckets.map((b) => b.predicted) },
    ],
  }
}
