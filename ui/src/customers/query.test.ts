import { describe, expect, it } from 'vitest'
import { attachmentName, batchFilter, emptyFilters, listQuery, tagIdsFromQuery } from './query'

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
    })
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
