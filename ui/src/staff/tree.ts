import type { Schemas } from '@/api/client'

export type Department = Schemas['DepartmentNode']

export const STAFF_STATUSES = ['active', 'inactive', 'disabled', 'resigned'] as const
export type StaffStatus = (typeof STAFF_STATUSES)[number]

/** A node as TDesign's Tree and TreeSelect take it. */
export interface TreeItem {
  value: number
  label: string
  /** Staff directly in the department. */
  own: number
  /** Staff in the department and every department below it. */
  total: number
  children?: TreeItem[]
}

/**
 * The API's department tree as tree items, each labelled with the number of members in
 * it and below it (the members list shows the same sub-tree). Siblings keep the API's
 * order; leaves get no `children` so the tree draws no expander for them.
 */
export function toTreeItems(nodes: readonly Department[]): TreeItem[] {
  return nodes.map((node) => {
    const children = toTreeItems(node.children ?? [])
    const total = node.staff_count + children.reduce((sum, child) => sum + child.total, 0)
    const item: TreeItem = { value: node.id, label: `${node.name} (${total})`, own: node.staff_count, total }
    if (children.length) item.children = children
    return item
  })
}

/** Every department with its path ("华东大区 / 上海"), for pickers; depth first. */
export function departmentPaths(nodes: readonly Department[], prefix = ''): { value: number; label: string }[] {
  return nodes.flatMap((node) => {
    const path = prefix ? `${prefix} / ${node.name}` : node.name
    return [{ value: node.id, label: path }, ...departmentPaths(node.children ?? [], path)]
  })
}

/** The department and all its descendants' ids: a department cannot move under these. */
export function subtreeIds(nodes: readonly Department[], id: number): Set<number> {
  const found = new Set<number>()
  const collect = (node: Department): void => {
    found.add(node.id)
    node.children?.forEach(collect)
  }
  const search = (list: readonly Department[]): boolean =>
    list.some((node) => (node.id === id ? (collect(node), true) : search(node.children ?? [])))
  search(nodes)
  return found
}

export function findDepartment(nodes: readonly Department[], id: number): Department | null {
  for (const node of nodes) {
    if (node.id === id) return node
    const below = findDepartment(node.children ?? [], id)
    if (below) return below
  }
  return null
}
