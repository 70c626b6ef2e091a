import { describe, expect, it } from 'vitest'
import { allowedActions, funnelOption, groupTableRows, LIVE_STATUSES, rate, reasonsOption, statusTheme, type Counts } from './results'

const counts: Counts = {
  planned: 100,
  excluded: 10,
  pending: 0,
  sending: 0,
  sent: 90,
  delivered: 80,
  failed: 10,
  cancelled: 0,
  clicked: 20,
  converted: 4,
  converted_fen: 39900,
}

describe('broadcast actions', () => {
  it('follow the status', () => {
    expect(allowedActions('draft', 'email')).toEqual(['edit', 'delete'])
    expect(allowedActions('scheduled', 'email')).toEqual(['edit', 'pause', 'cancel'])
    expect(allowedActions('sending', 'email')).toEqual(['pause', 'cancel'])
    expect(allowedActions('paused', 'sms')).toEqual(['resume', 'cancel'])
    expect(allowedActions('planning', 'email')).toEqual(['cancel'])
    expect(allowedActions('completed', 'email')).toEqual(['delete'])
    expect(allowedActions('cancelled', 'wecom')).toEqual(['delete'])
  })

  it('offer a reminder only to WeCom broadcasts waiting for staff', () => {
    expect(allowedActions('waiting', 'wecom')).toContain('remind')
    expect(allowedActions('waiting', 'wecom_group')).toContain('remind')
    expect(allowedActions('waiting', 'email')).not.toContain('remind')
  })

  it('refresh the page only while in flight', () => {
    expect([...LIVE_STATUSES].sort()).toEqual(['planning', 'sending', 'waiting'])
    expect(statusTheme('failed')).toBe('danger')
    expect(statusTheme('unknown')).toBe('default')
  })
})

describe('result charts and tables', () => {
  it('draw the funnel top to bottom from planned to converted', () => {
    const option = funnelOption(counts, { planned: '计划', sent: '已发送', delivered: '已送达', clicked: '点击', converted: '转化' }) as {
      yAxis: { data: string[] }
      series: { data: number[] }[]
    }
    expect(option.yAxis.data).toEqual(['转化', '点击', '已送达', '已发送', '计划'])
    expect(option.series[0].data).toEqual([4, 20, 80, 90, 100])
  })

  it('draw reasons with labels and nothing when there are none', () => {
    expect(reasonsOption({}, (r) => r, '#000')).toBeNull()
    const option = reasonsOption({ opted_out: 3, duplicate: 1, no_address: 0 }, (r) => `L-${r}`, '#000') as {
      yAxis: { data: string[] }
      series: { data: number[] }[]
    }
    expect(option.yAxis.data).toEqual(['L-duplicate', 'L-opted_out'])
    expect(option.series[0].data).toEqual([1, 3])
  })

  it('give rates with one decimal and a dash for nothing sent', () => {
    expect(rate(1, 3)).toBe('33.3%')
    expect(rate(0, 0)).toBe('—')
    expect(groupTableRows([{ key: 'A', label: 'A', counts }])[0]).toMatchObject({
      delivery_rate: '88.9%',
      click_rate: '25.0%',
      conversion_rate: '5.0%',
    })
  })
})
