import { describe, expect, it } from 'vitest'
import en from '@/i18n/en'
import zhCN from '@/i18n/zh-CN'
import schema from '../api/schema.d.ts?raw'

/** The members of an enum of the generated API schema (the server's own list, kept current by `make api-client`). */
function schemaEnum(name: string): string[] {
  const found = new RegExp(`^\\s*${name}: ((?:"[^"]+"(?: \\| )?)+);$`, 'm').exec(schema)
  if (!found) throw new Error(`${name} is not in the API schema`)
  return [...found[1].matchAll(/"([^"]+)"/g)].map((m) => m[1])
}

describe('reason labels', () => {
  const labels = schemaEnum('ReasonLabel')

  it('are read from the API schema', () => {
    expect(labels).toContain('smtp_5xx')
    expect(labels).toContain('in_doubt')
    expect(labels.length).toBeGreaterThan(50)
  })

  it.each([
    ['zh-CN', zhCN.broadcasts.reasons],
    ['en', en.broadcasts.reasons],
  ])('every reason the server can label has words in %s', (_, reasons) => {
    const words = reasons as Record<string, string>
    expect(labels.filter((label) => !words[label]?.trim())).toEqual([])
  })
})
