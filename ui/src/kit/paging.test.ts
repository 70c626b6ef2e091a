import { describe, expect, it } from 'vitest'
import { ApiError } from '@/api/client'
import { useKeysetList, type Page } from './paging'

function pages(): (cursor: string | null) => Promise<Page<number>> {
  const all: Record<string, Page<number>> = {
    first: { items: [1, 2], next_cursor: 'c2' },
    c2: { items: [3, 4], next_cursor: 'c3' },
    c3: { items: [5], next_cursor: null },
  }
  return async (cursor) => all[cursor ?? 'first']
}

describe('useKeysetList', () => {
  it('appends pages by cursor until the last one', async () => {
    const list = useKeysetList(pages())
    await list.reload()
    await list.more()
    await list.more()
    expect(list.items.value).toEqual([1, 2, 3, 4, 5])
    expect(list.cursor.value).toBeNull()
    await list.more()
    expect(list.items.value).toEqual([1, 2, 3, 4, 5])
  })

  it('starts over on reload', async () => {
    const list = useKeysetList(pages())
    await list.reload()
    await list.more()
    await list.reload()
    expect(list.items.value).toEqual([1, 2])
    expect(list.cursor.value).toBe('c2')
  })

  it("shows the API's message and keeps what was loaded", async () => {
    let fail = false
    const source = pages()
    const list = useKeysetList(async (cursor) => {
      if (fail) throw new ApiError('limit: must be at most 200', 422, 'validation_failed', 'limit')
      return source(cursor)
    })
    await list.reload()
    fail = true
    await list.more()
    expect(list.error.value).toBe('limit: must be at most 200')
    expect(list.items.value).toEqual([1, 2])
    expect(list.loading.value).toBe(false)
  })

  it('ignores an answer that a newer reload overtook', async () => {
    const resolvers: ((page: Page<string>) => void)[] = []
    const list = useKeysetList<string>(() => new Promise((resolve) => resolvers.push(resolve)))
    const slow = list.reload()
    const fast = list.reload()
    resolvers[1]({ items: ['new'], next_cursor: null })
    await fast
    resolvers[0]({ items: ['old'], next_cursor: 'x' })
    await slow
    expect(list.items.value).toEqual(['new'])
    expect(list.cursor.value).toBeNull()
  })
})
