import { describe, expect, it } from 'vitest'
import {
  allowedActions,
  canSimulateConfirm,
  countRows,
  funnelOption,
  funnelSteps,
  groupTableRows,
  LIVE_STATUSES,
  progress,
  rate,
  reasonsOption,
  reasonText,
  statusTheme,
  waitingTotal,
  type Counts,
} from './results'

// one status per delivery: 10 sent without a receipt yet, 80 delivered, 10 failed
const counts: Counts = {
  planned: 100,
  excluded: 10,
  pending: 0,
  sending: 0,
  sent: 10,
  delivered: 80,
  failed: 10,
  cancelled: 0,
  opened: 30,
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

  it('offer simulated staff confirmation only in demo mode, to WeCom broadcasts with a waiting task', () => {
    const waiting = [{ status: 'sent', msgid: 'm1' }, { status: 'waiting', msgid: 'm2' }]
    expect(canSimulateConfirm(true, 'wecom', 'waiting', waiting)).toBe(true)
    expect(canSimulateConfirm(true, 'wecom_group', 'waiting', waiting)).toBe(true)
    expect(canSimulateConfirm(false, 'wecom', 'waiting', waiting)).toBe(false)
    expect(canSimulateConfirm(true, 'email', 'waiting', waiting)).toBe(false)
    expect(canSimulateConfirm(true, 'wecom', 'completed', waiting)).toBe(false)
    expect(canSimulateConfirm(true, 'wecom', 'waiting', [{ status: 'waiting', msgid: null }])).toBe(false)
  })

  it('refresh the page only while in flight', () => {
    expect([...LIVE_STATUSES].sort()).toEqual(['planning', 'sending', 'waiting'])
    expect(statusTheme('failed')).toBe('danger')
    expect(statusTheme('unknown')).toBe('default')
  })
})

describe('result charts and tables', () => {
  it('count a delivered row as sent and show delivered only where receipts exist', () => {
    expect(funnelSteps(counts, 'sms')).toEqual([
      { stage: 'planned', value: 100, ofPrevious: null },
      { stage: 'sent', value: 90, ofPrevious: '90.0%' },
      { stage: 'delivered', value: 80, ofPrevious: '88.9%' },
      { stage: 'clicked', value: 20, ofPrevious: '25.0%' },
      { stage: 'converted', value: 4, ofPrevious: '20.0%' },
    ])
    expect(funnelSteps(counts, 'wecom').map((s) => s.stage)).toEqual(['planned', 'sent', 'clicked', 'converted'])
    expect(funnelSteps(counts, 'email')).toEqual([
      { stage: 'planned', value: 100, ofPrevious: null },
      { stage: 'sent', value: 90, ofPrevious: '90.0%' },
      { stage: 'opened', value: 30, ofPrevious: '33.3%' },
      { stage: 'clicked', value: 20, ofPrevious: '66.7%' },
      { stage: 'converted', value: 4, ofPrevious: '20.0%' },
    ])
  })

  it('draw the funnel top to bottom with the share of the stage before', () => {
    const option = funnelOption(funnelSteps(counts, 'sms'), (stage) => `L-${stage}`) as {
      yAxis: { data: string[] }
      series: { data: { value: number; label: { formatter: string } }[] }[]
    }
    expect(option.yAxis.data).toEqual(['L-converted', 'L-clicked', 'L-delivered', 'L-sent', 'L-planned'])
    expect(option.series[0].data.map((d) => d.value)).toEqual([4, 20, 80, 90, 100])
    expect(option.series[0].data[0].label.formatter).toBe('4 · 20.0%')
    expect(option.series[0].data[4].label.formatter).toBe('100')
  })

  it('measure progress as deliveries with an outcome', () => {
    expect(progress(counts)).toBe(100)
    expect(progress({ ...counts, sent: 0, delivered: 0, failed: 0, pending: 100 })).toBe(0)
    expect(progress({ ...counts, planned: 0 })).toBe(0)
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
      sent: 90,
      delivered: 80,
      delivery_rate: '88.9%',
      opened: 30,
      open_rate: '33.3%',
      click_rate: '22.2%',
      conversion_rate: '4.4%',
    })
  })
})

describe('reason text', () => {
  const words = (key: string) => `<${key}>`
  const labels = { opted_out: 'opted_out', smtp_550: 'smtp_5xx', 'isv.BUSINESS_LIMIT_CONTROL': 'sms_flow_control' } as const

  it('is the label of a code Siyu knows', () => {
    expect(reasonText('opted_out', labels, words)).toBe('<broadcasts.reasons.opted_out>')
  })

  it("shows a provider's code beside the label of its family", () => {
    expect(reasonText('smtp_550', labels, words)).toBe('<broadcasts.reasons.smtp_5xx> (smtp_550)')
    expect(reasonText('isv.BUSINESS_LIMIT_CONTROL', labels, words)).toBe(
      '<broadcasts.reasons.sms_flow_control> (isv.BUSINESS_LIMIT_CONTROL)',
    )
  })

  it('falls back to the bare code without a label', () => {
    expect(reasonText('brand_new', labels, words)).toBe('brand_new')
  })
})

describe('counts by key', () => {
  it('list the largest first and leave zeros out', () => {
    expect(countRows({ poster: 3, wecom: 5, email: 0, sms: 3 })).toEqual([
      { key: 'wecom', count: 5 },
      { key: 'poster', count: 3 },
      { key: 'sms', count: 3 },
    ])
  })

  it('add up to what waits for another try', () => {
    expect(waitingTotal({ smtp_451: 3, in_doubt: 2 })).toBe(5)
    expect(waitingTotal({})).toBe(0)
  })
})
