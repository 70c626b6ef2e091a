import { describe, expect, it } from 'vitest'
import { attachmentName, batchFilter, customCondition, emptyFilters, listQuery, tagIdsFromQuery } from './query'

describe('customer list query', () => {
  it('leaves out empty filters and reads dates in China time', () => {
    const filters = { ...emptyFilters(), q: ' 王 ', created: ['2026-11-01', '2026-11-23'] }
    expect(listQuery(filters)).toEqual({
      q: '王',
      tag_ids: undefined,
      staff_id: undefined,
      stage: undefined,
      source: undefined,
      created_from: '2026-11-01T00:00:00+08:00',
      created_to: '2026-11-23T23:59:59+08:00',
      last_order_from: undefined,
      last_order_to: undefined,
      last_active_from: undefined,
      last_active_to: undefined,
      custom_fields: undefined,
    })
  })

  it('sends the last order and last active ranges and one custom field condition', () => {
    const filters = {
      ...emptyFilters(),
      lastOrder: ['2026-10-01', '2026-10-31'],
      lastActive: ['2026-11-20', ''],
      customKey: 'skin_type',
      customValue: ' 油性 ',
    }
    expect(listQuery(filters)).toMatchObject({
      last_order_from: '2026-10-01T00:00:00+08:00',
      last_order_to: '2026-10-31T23:59:59+08:00',
      last_active_from: '2026-11-20T00:00:00+08:00',
      last_active_to: undefined,
      custom_fields: '{"skin_type":"油性"}',
    })
    expect(batchFilter(filters).custom_fields).toEqual({ skin_type: '油性' })
    expect(batchFilter(filters).last_order_to).toBe('2026-10-31T23:59:59+08:00')
  })

  it('leaves out a custom field condition until it has a value', () => {
    expect(customCondition({ ...emptyFilters(), customKey: 'skin_type' })).toBeUndefined()
    expect(customCondition({ ...emptyFilters(), customKey: 'skin_type', customValue: '  ' })).toBeUndefined()
    expect(customCondition({ ...emptyFilters(), customKey: 'height', customValue: 0 })).toEqual({ height: 0 })
  })

  it('turns the same filters into a bulk tag filter', () => {
    const filters = { ...emptyFilters(), tagIds: [3, 5], staffId: 7, stage: 'new' }
    expect(batchFilter(filters)).toEqual({
      q: null,
      tag_ids: [3, 5],
      any_tag_ids: [],
      staff_id: 7,
      stage: 'new',
      source: null,
      custom_fields: {},
      created_from: null,
      created_to: null,
      last_order_from: null,
      last_order_to: null,
      last_active_from: null,
      last_active_to: null,
    })
  })

  it('reads tag ids from the route query', () => {
    expect(tagIdsFromQuery('4')).toEqual([4])
    expect(tagIdsFromQuery(['4', 'x', '9'])).toEqual([4, 9])
    expect(tagIdsFromQuery(undefined)).toEqual([])
  })

  it('takes the file name from Content-Disposition', () => {
    expect(attachmentName('attachment; filename="customers-20261123.csv"', 'x.csv')).toBe('customers-20261123.csv')
    expect(attachmentName(null, 'x.csv')).toBe('x.csv')
  })
})
