import { ref, watch, type Ref } from 'vue'

/**
 * Which columns a table shows, remembered per table in localStorage.
 * Unknown saved keys (a column that no longer exists) are dropped; an unreadable or
 * empty saved value falls back to the defaults.
 */
export function useColumnChoice(table: string, available: readonly string[], defaults: readonly string[]): Ref<string[]> {
  const key = `siyu.columns.${table}`
  const chosen = ref<string[]>(read(key, available) ?? [...defaults])
  watch(
    chosen,
    (value) => {
      localStorage.setItem(key, JSON.stringify(value))
    },
    { deep: true },
  )
  return chosen
}

function read(key: string, available: readonly string[]): string[] | null {
  const raw = localStorage.getItem(key)
  if (!raw) return null
  try {
    const parsed: unknown = JSON.parse(raw)
    if (!Array.isArray(parsed)) return null
    const kept = parsed.filter((c): c is string => typeof c === 'string' && available.includes(c))
    return kept.length > 0 ? kept : null
  } catch {
    return null
  }
}
