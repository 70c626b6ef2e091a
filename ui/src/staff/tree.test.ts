import { describe, expect, it } from 'vitest'
import { departmentPaths, findDepartment, subtreeIds, toTreeItems, type Department } from './tree'

function dept(id: number, name: string, staff: number, children: Department[] = [], parent: number | null = null): Department {
  return { id, name, parent_id: parent, wecom_id: null, sort_order: 0, manager_staff_id: null, staff_count: staff, children }
}

const TREE = [
  dept(1, '华东大区', 1, [dept(2, '上海', 3, [dept(3, '徐汇店', 2, [], 2)], 1), dept(4, '杭州', 0, [], 1)]),
  dept(5, '华北大区', 0),
]

describe('toTreeItems', () => {
  it('labels each department with its members including sub-departments', () => {
    const items = toTreeItems(TREE)
    expect(items.map((i) => i.label)).toEqual(['华东大区 (6)', '华北大区 (0)'])
    const shanghai = items[0].children?.[0]
    expect(shanghai).toMatchObject({ value: 2, label: '上海 (5)', own: 3, total: 5 })
    expect(shanghai?.children?.[0]).toMatchObject({ value: 3, label: '徐汇店 (2)' })
  })

  it('gives leaves no children so no expander is drawn', () => {
    const items = toTreeItems(TREE)
    expect(items[1].children).toBeUndefined()
    expect(items[0].children?.[1].children).toBeUndefined()
  })

  it('returns nothing for no departments', () => {
    expect(toTreeItems([])).toEqual([])
  })
})

describe('departmentPaths', () => {
  it('lists every department depth first with its full path', () => {
    expect(departmentPaths(TREE)).toEqual([
      { value: 1, label: '华东大区' },
      { value: 2, label: '华东大区 / 上海' },
      { value: 3, label: '华东大区 / 上海 / 徐汇店' },
      { value: 4, label: '华东大区 / 杭州' },
      { value: 5, label: '华北大区' },
    ])
  })
})

describe('subtreeIds and findDepartment', () => {
  it('collects a department and everything below it', () => {
    expect([...subtreeIds(TREE, 2)].sort()).toEqual([2, 3])
    expect([...subtreeIds(TREE, 1)].sort()).toEqual([1, 2, 3, 4])
    expect(subtreeIds(TREE, 99).size).toBe(0)
  })

  it('finds nested departments', () => {
    expect(findDepartment(TREE, 3)?.name).toBe('徐汇店')
    expect(findDepartment(TREE, 99)).toBeNull()
  })
})
