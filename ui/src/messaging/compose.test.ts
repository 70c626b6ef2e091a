import { describe, expect, it } from 'vitest'
import type { Schemas } from '@/api/client'
import {
  addVariant,
  eligibilityQuery,
  emptyContent,
  emptyForm,
  formFromBroadcast,
  insertVariable,
  isoToLocal,
  localToIso,
  looksLikeCron,
  reasonKey,
  reasonRows,
  removeVariant,
  sendProblem,
  setSplit,
  splitProblem,
  stepProblem,
  toBody,
  utf8Bytes,
  type BroadcastForm,
} from './compose'

function emailForm(): BroadcastForm {
  const form = emptyForm()
  form.name = ' 双十一预热 '
  form.channel = 'email'
  form.segment_id = 3
  form.variants[0].content.subject = '新品上市'
  form.variants[0].content.html = '<p>{客户昵称}，您好</p>'
  return form
}

describe('byte counting', () => {
  it('counts UTF-8 bytes: a Chinese character is three', () => {
    expect(utf8Bytes('abc')).toBe(3)
    expect(utf8Bytes('你好')).toBe(6)
    expect(utf8Bytes('😀')).toBe(4)
  })

  it('refuses WeCom text over 4000 bytes even when under 4000 characters', () => {
    const form = emptyForm()
    form.name = 'x'
    form.segment_id = 1
    form.variants[0].content.text = '好'.repeat(1334) // 4002 bytes
    expect(stepProblem(form, 1)?.key).toBe('broadcasts.errors.textTooLong')
    form.variants[0].content.text = '好'.repeat(1333) // 3999 bytes
    expect(stepProblem(form, 1)).toBeNull()
  })

  it('refuses the customer name in WeCom text and a poster without its QR link', () => {
    const form = emptyForm()
    form.name = 'x'
    form.segment_id = 1
    const content = form.variants[0].content
    content.text = '{客户昵称}您好，我是{员工姓名}'
    expect(stepProblem(form, 1)?.key).toBe('broadcasts.errors.wecomCustomerName')
    content.text = '您好，我是{员工姓名}'
    content.poster_id = 7
    expect(stepProblem(form, 1)?.key).toBe('broadcasts.errors.posterUrl')
    content.poster_url = 'https://shop.example.cn/longjing'
    expect(stepProblem(form, 1)).toBeNull()
    expect(toBody(form).content).toMatchObject({ poster_id: 7, poster_url: 'https://shop.example.cn/longjing' })
  })
})

describe('variables', () => {
  it('are inserted at the cursor, or at the end without one', () => {
    expect(insertVariable('您好，', 3, '客户昵称')).toEqual({ text: '您好，{客户昵称}', cursor: 9 })
    expect(insertVariable('ab', 1, '员工姓名')).toEqual({ text: 'a{员工姓名}b', cursor: 7 })
    expect(insertVariable('ab', null, '员工姓名').text).toBe('ab{员工姓名}')
  })
})

describe('A/B variants', () => {
  it('split evenly when added and removed; the slider sets A and B takes the rest', () => {
    const form = emptyForm()
    addVariant(form)
    expect(form.variants.map((v) => [v.key, v.percent])).toEqual([['A', 50], ['B', 50]])
    setSplit(form.variants, 70)
    expect(form.variants.map((v) => v.percent)).toEqual([70, 30])
    addVariant(form)
    expect(form.variants.map((v) => v.percent)).toEqual([34, 33, 33])
    removeVariant(form, 'B')
    expect(form.variants.map((v) => [v.key, v.percent])).toEqual([['A', 50], ['C', 50]])
  })

  it('must add up to 100, each share between 1 and 100', () => {
    const form = emptyForm()
    addVariant(form)
    expect(splitProblem(form.variants)).toBeNull()
    form.variants[1].percent = 40
    expect(splitProblem(form.variants)).toMatchObject({ key: 'broadcasts.errors.percentSum', params: { total: 90 } })
    form.variants[0].percent = 100
    form.variants[1].percent = 0
    expect(splitProblem(form.variants)?.key).toBe('broadcasts.errors.percentRange')
  })

  it('are sent as variants with their own content; one variant sends none', () => {
    const form = emailForm()
    expect(toBody(form).variants).toBeNull()
    addVariant(form)
    form.variants[1].content.subject = '限时优惠'
    form.variants[1].content.html = '<p>B</p>'
    setSplit(form.variants, 60)
    const body = toBody(form)
    expect(body.variants?.map((v) => [v.key, v.percent, v.content.subject])).toEqual([
      ['A', 60, '新品上市'],
      ['B', 40, '限时优惠'],
    ])
    expect(body.content.subject).toBe('新品上市')
  })

  it('names the variant whose content is missing', () => {
    const form = emailForm()
    addVariant(form)
    expect(stepProblem(form, 1)).toMatchObject({ key: 'broadcasts.errors.subjectRequired', field: 'variants.1.content.subject', params: { variant: 'B' } })
  })
})

describe('eligibility', () => {
  it('has a Chinese label key per known reason and shows the largest first', () => {
    expect(reasonKey('opted_out')).toBe('broadcasts.reasons.opted_out')
    expect(reasonKey('something_new')).toBeNull()
    expect(reasonRows({ duplicate: 2, opted_out: 5, no_address: 0 })).toEqual([
      { reason: 'opted_out', count: 5 },
      { reason: 'duplicate', count: 2 },
    ])
    expect(reasonRows(undefined)).toEqual([])
  })

  it('is asked for the segment, or the groups for a group broadcast, and not before one is picked', () => {
    const form = emptyForm()
    expect(eligibilityQuery(form)).toBeNull()
    form.segment_id = 4
    expect(eligibilityQuery(form)).toEqual({ channel: 'wecom', segment_id: 4, customer_group_ids: null })
    form.channel = 'wecom_group'
    expect(eligibilityQuery(form)).toBeNull()
    form.customer_group_ids = [1, 2]
    expect(eligibilityQuery(form)).toEqual({ channel: 'wecom_group', segment_id: null, customer_group_ids: [1, 2] })
  })
})

describe('the form as BroadcastIn', () => {
  it('keeps only the fields of the chosen channel', () => {
    const form = emailForm()
    form.variants[0].content.material_ids = [1]
    const body = toBody(form)
    expect(body).toMatchObject({ name: '双十一预热', channel: 'email', segment_id: 3, customer_group_ids: null, send_at: null, recurrence: null })
    expect(body.content).toEqual({ subject: '新品上市', html: '<p>{客户昵称}，您好</p>', text: null })
  })

  it('sends SMS params as a map and a webhook with its URL and event', () => {
    const form = emptyForm()
    form.name = 's'
    form.channel = 'sms'
    Object.assign(form.variants[0].content, {
      sign_name: '思域',
      template_code: 'SMS_1',
      params: [{ key: 'name', value: '{客户昵称}' }, { key: ' ', value: 'dropped' }],
    })
    expect(toBody(form).content).toEqual({ sms: { sign_name: '思域', template_code: 'SMS_1', params: { name: '{客户昵称}' } } })
    form.channel = 'webhook'
    form.variants[0].content = { ...emptyContent(), webhook_url: 'https://hook.example.com/x' }
    expect(toBody(form).content).toEqual({ text: null, webhook_url: 'https://hook.example.com/x', webhook_event: 'broadcast.message' })
  })

  it('sends groups instead of a segment for a group broadcast', () => {
    const form = emptyForm()
    form.name = 'g'
    form.channel = 'wecom_group'
    form.segment_id = 9
    form.customer_group_ids = [5]
    form.variants[0].content.text = 'hi'
    form.variants[0].content.material_ids = [7, 8]
    expect(toBody(form)).toMatchObject({ segment_id: null, customer_group_ids: [5], content: { text: 'hi', material_ids: [7, 8], poster_id: null } })
  })

  it('sends a time only when scheduled, a cron only when recurring', () => {
    const form = emailForm()
    form.send_at = '2030-01-02 09:30:00'
    form.recurrence = '0 9 * * 1'
    expect(toBody(form)).toMatchObject({ send_at: null, recurrence: null })
    form.schedule = 'at'
    expect(toBody(form).send_at).toBe(new Date('2030-01-02T09:30:00').toISOString())
    form.schedule = 'recurring'
    expect(toBody(form)).toMatchObject({ send_at: null, recurrence: '0 9 * * 1' })
  })

  it('comes back from a saved broadcast unchanged', () => {
    const form = emailForm()
    addVariant(form)
    form.variants[1].content.subject = 'B'
    form.variants[1].content.html = '<b>B</b>'
    form.schedule = 'at'
    form.send_at = '2030-01-02 09:30:00'
    const body = toBody(form)
    const saved = {
      ...body,
      id: 1,
      status: 'draft',
      snapshot_id: null,
      parent_id: null,
      created_by: null,
      planned_count: 0,
      excluded_count: 0,
      planned_at: null,
      started_at: null,
      finished_at: null,
      error: null,
      created_at: '2030-01-01T00:00:00Z',
    } as unknown as Schemas['BroadcastOut']
    expect(toBody(formFromBroadcast(saved))).toEqual(body)
  })

  it('reads SMS content and ignores malformed fields of a saved broadcast', () => {
    const saved = {
      name: '短信',
      channel: 'sms',
      segment_id: 1,
      customer_group_ids: null,
      content: { sms: { sign_name: '山茶集', template_code: 'SMS_1', params: { code: '8', n: 3 } }, material_ids: [4, 'x'] },
      variants: null,
      send_at: null,
      recurrence: null,
      attribution_days: 7,
    } as unknown as Schemas['BroadcastOut']
    const content = formFromBroadcast(saved).variants[0].content
    expect(content).toMatchObject({ sign_name: '山茶集', template_code: 'SMS_1', material_ids: [4] })
    expect(content.params).toEqual([
      { key: 'code', value: '8' },
      { key: 'n', value: '' },
    ])
  })
})

describe('steps', () => {
  it('need a name and an audience first', () => {
    const form = emptyForm()
    expect(stepProblem(form, 0)?.key).toBe('broadcasts.errors.nameRequired')
    form.name = 'n'
    expect(stepProblem(form, 0)?.key).toBe('broadcasts.errors.audienceRequired')
    form.segment_id = 1
    expect(stepProblem(form, 0)).toBeNull()
  })

  it('refuse a time in the past and a malformed cron', () => {
    const form = emailForm()
    const now = new Date('2030-01-01T00:00:00Z')
    form.schedule = 'at'
    expect(stepProblem(form, 2, now)?.key).toBe('broadcasts.errors.sendAtRequired')
    form.send_at = isoToLocal('2029-12-31T23:00:00Z')
    expect(stepProblem(form, 2, now)?.key).toBe('broadcasts.errors.sendAtPast')
    form.send_at = isoToLocal('2030-01-01T01:00:00Z')
    expect(stepProblem(form, 2, now)).toBeNull()
    form.schedule = 'recurring'
    form.recurrence = 'every monday'
    expect(stepProblem(form, 2, now)?.key).toBe('broadcasts.errors.cron')
    expect(looksLikeCron('0 9 * * 1-5')).toBe(true)
    expect(looksLikeCron('*/15 * * *')).toBe(false)
  })

  it('report the first blocking problem with its step', () => {
    const form = emailForm()
    form.variants[0].content.subject = ''
    expect(sendProblem(form)).toMatchObject({ step: 1, key: 'broadcasts.errors.subjectRequired' })
    form.variants[0].content.subject = 's'
    expect(sendProblem(form)).toBeNull()
  })

  it('convert between the picker and ISO both ways', () => {
    const iso = localToIso('2030-05-06 07:08:09')
    expect(iso).not.toBeNull()
    expect(isoToLocal(iso)).toBe('2030-05-06 07:08:09')
    expect(localToIso('tomorrow')).toBeNull()
  })
})
