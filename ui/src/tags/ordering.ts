/** The list with the item at `index` moved one place up (-1) or down (+1); null at an end. */
export function moved<T>(items: readonly T[], index: number, delta: -1 | 1): T[] | null {
  const target = index + delta
  if (index < 0 || index >= items.length || target < 0 || target >= items.length) return null
  const next = [...items]
  const [item] = next.splice(index, 1)
  next.splice(target, 0, item as T)
  return next
}

/** The list with the item at `from` moved to position `to` (drag and drop); null if nothing moves. */
export function movedTo<T>(items: readonly T[], from: number, to: number): T[] | null {
  if (from === to || from < 0 || to < 0 || from >= items.length || to >= items.length) return null
  const next = [...items]
  const [item] = next.splice(from, 1)
  next.splice(to, 0, item as T)
  return next
}
