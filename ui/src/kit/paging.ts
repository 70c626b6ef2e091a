import { ref, shallowRef } from 'vue'
import { errorMessage } from '@/api/client'

export interface Page<T> {
  items: T[]
  next_cursor?: string | null
}

/**
 * Keyset paging: `reload()` starts from the first page, `more()` appends the next one.
 * `fetch` gets the cursor of the page to load (null for the first).
 */
export function useKeysetList<T>(fetch: (cursor: string | null) => Promise<Page<T>>) {
  const items = shallowRef<T[]>([])
  const cursor = ref<string | null>(null)
  const loading = ref(false)
  const error = ref<string | null>(null)
  const loaded = ref(false)
  let generation = 0

  async function load(from: string | null): Promise<void> {
    const mine = ++generation
    loading.value = true
    error.value = null
    try {
      const page = await fetch(from)
      if (mine !== generation) return
      items.value = from === null ? page.items : [...items.value, ...page.items]
      cursor.value = page.next_cursor ?? null
      loaded.value = true
    } catch (failure) {
      if (mine === generation) error.value = errorMessage(failure)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  return {
    items,
    cursor,
    loading,
    error,
    loaded,
    reload: () => load(null),
    more: async () => {
      if (cursor.value && !loading.value) await load(cursor.value)
    },
  }
}
