/** The list with the item at `index` moved one place up (-1) or down (+1); null at an end. */
export function moved<T>(items: readonly T[], index: number, delta: -1 | 1): T[] | null {
  const target = index + delta
  if (index < 0 || index >= items.length || target < 0 || target >= items.length) return null
  const next = [...items]
  const [item] = next.splice(index, 1)
  next.splice(target, 0, item as T)
  return next
}
