import { describe, expect, it } from 'vitest'
import { duplicateTargets, missingRequired } from './targets'

const FIELDS = [
  { name: 'order_id', required: true },
  { name: 'status', required: true },
  { name: 'ordered_at', required: true },
  { name: 'paid', required: true },
  { name: 'store', required: false },
]

describe('order import mapping checks', () => {
  it('names the required fields without a column', () => {
    expect(missingRequired(FIELDS, { order_id: '订单号', paid: '实付金额' })).toEqual(['status', 'ordered_at'])
    expect(missingRequired(FIELDS, { order_id: 'a', status: 'b', ordered_at: 'c', paid: 'd' })).toEqual([])
  })

  it('treats a cleared selection as unmapped', () => {
    expect(missingRequired(FIELDS, { order_id: 'a', status: undefined, ordered_at: 'c', paid: '' })).toEqual(['status', 'paid'])
  })

  it('names every field that shares a column with another', () => {
    expect(duplicateTargets({ paid: '金额', total: '金额', order_id: '单号' })).toEqual(['paid', 'total'])
    expect(duplicateTargets({ paid: '实付', total: '总价', store: undefined })).toEqual([])
  })
})
