import { describe, expect, it } from 'vitest'
import {
  chainQuery,
  chainUrl,
  graphOption,
  levelCategory,
  nodeLabel,
  summary,
  symbolSize,
  type ShareChain,
} from './shareChain'

const labels = {
  anonymous: (id: number) => `访客 #${id}`,
  customer: (id: number) => `客户 #${id}`,
  level: (level: number) => `第 ${level} 层`,
}

const chain: ShareChain = {
  broadcast_id: 9,
  link_code: null,
  nodes: [
    { key: 'c:1', customer_id: 1, visitor_id: null, anonymous: false, name: '张三', level: 0 },
    { key: 'c:2', customer_id: 2, visitor_id: null, anonymous: false, name: null, level: 1 },
    { key: 'v:7', customer_id: null, visitor_id: 7, anonymous: true, name: null, level: 2 },
  ],
  edges: [
    { source: 'c:1', target: 'c:2', first_at: '2026-11-11T01:00:00Z', opens: 1 },
    { source: 'c:2', target: 'v:7', first_at: '2026-11-11T02:00:00Z', opens: 4 },
  ],
  spreaders: [
    { key: 'c:1', customer_id: 1, name: '张三', direct_shares: 1, reach: 2, depth: 2 },
    { key: 'c:2', customer_id: 2, name: null, direct_shares: 1, reach: 1, depth: 1 },
  ],
  truncated: false,
}

describe('chainQuery', () => {
  it('reads a broadcast id or a link code from the page query', () => {
    expect(chainQuery({ broadcast: '12' })).toEqual({ broadcast_id: 12 })
    expect(chainQuery({ link: 'abcDEF12_-x' })).toEqual({ link_code: 'abcDEF12_-x' })
    expect(chainQuery({ broadcast: ['3', '4'], link: 'abcdefgh' })).toEqual({ broadcast_id: 3, link_code: 'abcdefgh' })
  })

  it('ignores values that cannot be ids or codes', () => {
    expect(chainQuery({})).toBeNull()
    expect(chainQuery({ broadcast: 'x1' })).toBeNull()
    expect(chainQuery({ broadcast: '0' })).toBeNull()
    expect(chainQuery({ link: 'short' })).toBeNull()
    expect(chainQuery({ link: 'has/slash1' })).toBeNull()
  })

  it('builds the API URL', () => {
    expect(chainUrl('/siyu', { broadcast_id: 9 })).toBe('/siyu/api/v1/share-chains?broadcast_id=9')
    expect(chainUrl('', { link_code: 'abcdefgh' })).toBe('/api/v1/share-chains?link_code=abcdefgh')
  })
})

describe('the graph', () => {
  it('labels customers by name or id and anonymous visitors by number', () => {
    expect(chain.nodes.map((n) => nodeLabel(n, labels))).toEqual(['张三', '客户 #2', '访客 #7'])
  })

  it('draws a node per person and an arrow per share, sized by reach', () => {
    const option = graphOption(chain, labels) as { series: Array<Record<string, unknown>> }
    const series = option.series[0]
    expect(series.type).toBe('graph')
    const data = series.data as Array<{ id: string; category: number; symbolSize: number }>
    expect(data.map((d) => [d.id, d.category])).toEqual([
      ['c:1', 0],
      ['c:2', 1],
      ['v:7', 2],
    ])
    expect(data[0].symbolSize).toBeGreaterThan(data[2].symbolSize)
    const links = series.links as Array<{ source: string; target: string; value: number }>
    expect(links.map((l) => [l.source, l.target, l.value])).toEqual([
      ['c:1', 'c:2', 1],
      ['c:2', 'v:7', 4],
    ])
    expect((series.categories as Array<{ name: string }>).map((c) => c.name)).toEqual(['第 0 层', '第 1 层', '第 2 层'])
  })

  it('caps levels and sizes', () => {
    expect(levelCategory(12)).toBe(5)
    expect(levelCategory(-1)).toBe(0)
    expect(symbolSize(0)).toBe(12)
    expect(symbolSize(10_000)).toBe(48)
  })

  it('sums up sharers, people reached and depth', () => {
    expect(summary(chain)).toEqual({ sharers: 2, reached: 2, depth: 2 })
  })
})
