import { describe, expect, it } from 'vitest'
import { CONDITION_TYPES, condition, defaults, fromRule, group, nodeForError, removeNode, toRule, type GroupNode } from './rule'

describe('segment rules in the builder', () => {
  it('round-trips every condition type, nested groups and negation', () => {
    const rule = {
      all: [
        ...CONDITION_TYPES.map((type) => defaults(type)),
        { any: [{ not: { type: 'tag', op: 'has_any', tag_ids: [3] } }, { all: [defaults('orders')] }] },
        { not: { any: [defaults('event')] } },
      ],
    }
    expect(toRule(fromRule(rule))).toEqual(rule)
  })

  it('builds the API JSON of a tree made in the builder', () => {
    const tags = condition('tag')
    tags.data.tag_ids = [1, 2]
    const orders = condition('orders')
    orders.negate = true
    expect(toRule(group('all', [tags, orders]))).toEqual({
      all: [
        { type: 'tag', op: 'has_any', tag_ids: [1, 2] },
        { not: { type: 'orders', metric: 'count', op: 'gte', value: 1, within_days: 365 } },
      ],
    })
  })

  it('finds the node an error path points into', () => {
    const inner = condition('profile')
    const nested = group('any', [condition('tag'), inner])
    const root = group('all', [condition('rfm'), nested])
    expect(nodeForError(root, 'rule.all[1].any[1].op')).toBe(inner.id)
    expect(nodeForError(root, 'rule.all[1]')).toBe(nested.id)
    expect(nodeForError(root, 'name')).toBeNull()
  })

  it('removes a node wherever it sits', () => {
    const deep = condition('stage')
    const root: GroupNode = group('all', [condition('tag'), group('any', [deep])])
    expect(removeNode(root, deep.id)).toBe(true)
    expect(toRule(root)).toEqual({ all: [defaults('tag'), { any: [] }] })
  })
})
