import type { EChartsCoreOption } from 'echarts/core'

/** GET /api/v1/share-chains (typed here until the generated client knows the route). */
export interface ShareNode {
  key: string
  customer_id: number | null
  visitor_id: number | null
  anonymous: boolean
  name: string | null
  level: number
}

export interface ShareEdge {
  source: string
  target: string
  first_at: string
  opens: number
}

export interface Spreader {
  key: string
  customer_id: number
  name: string | null
  direct_shares: number
  reach: number
  depth: number
}

export interface ShareChain {
  broadcast_id: number | null
  link_code: string | null
  nodes: ShareNode[]
  edges: ShareEdge[]
  spreaders: Spreader[]
  truncated: boolean
}

export interface ChainQuery {
  broadcast_id?: number
  link_code?: string
}

const LINK_CODE = /^[A-Za-z0-9_-]{8,16}$/

/** The API query from the page's URL query (`?broadcast=12` or `?link=abc…`); null if neither. */
export function chainQuery(query: Record<string, unknown>): ChainQuery | null {
  const first = (value: unknown): string | undefined => {
    const picked = Array.isArray(value) ? value[0] : value
    return typeof picked === 'string' && picked.trim() ? picked.trim() : undefined
  }
  const result: ChainQuery = {}
  const broadcast = first(query.broadcast)
  if (broadcast && /^\d+$/.test(broadcast) && Number(broadcast) > 0) result.broadcast_id = Number(broadcast)
  const link = first(query.link)
  if (link && LINK_CODE.test(link)) result.link_code = link
  return result.broadcast_id !== undefined || result.link_code !== undefined ? result : null
}

export function chainUrl(base: string, query: ChainQuery): string {
  const params = new URLSearchParams()
  if (query.broadcast_id !== undefined) params.set('broadcast_id', String(query.broadcast_id))
  if (query.link_code !== undefined) params.set('link_code', query.link_code)
  return `${base}/api/v1/share-chains?${params.toString()}`
}

export interface Labels {
  anonymous: (visitorId: number) => string
  customer: (customerId: number) => string
  level: (level: number) => string
}

/** A node's label: the customer's name, else their id, else "anonymous visitor #n". */
export function nodeLabel(node: ShareNode, labels: Labels): string {
  if (node.name) return node.name
  if (node.customer_id !== null) return labels.customer(node.customer_id)
  return labels.anonymous(node.visitor_id ?? 0)
}

const MAX_LEVEL_CATEGORIES = 6

/** The level's legend category: levels past the fifth share the last one. */
export function levelCategory(level: number): number {
  return Math.min(Math.max(level, 0), MAX_LEVEL_CATEGORIES - 1)
}

/** Bigger dots for people whose forwards reached more people. */
export function symbolSize(reach: number): number {
  return Math.round(Math.min(48, 12 + 6 * Math.sqrt(Math.max(reach, 0))))
}

/** An ECharts force-layout graph of the chain: dots by level, arrows sharer → visitor. */
export function graphOption(chain: ShareChain, labels: Labels): EChartsCoreOption {
  const reach = new Map(chain.spreaders.map((s) => [s.key, s.reach]))
  const deepest = chain.nodes.reduce((most, n) => Math.max(most, levelCategory(n.level)), 0)
  const categories = Array.from({ length: deepest + 1 }, (_, level) => ({ name: labels.level(level) }))
  return {
    tooltip: { trigger: 'item' },
    legend: [{ data: categories.map((c) => c.name), bottom: 0 }],
    series: [
      {
        type: 'graph',
        layout: 'force',
        roam: true,
        draggable: true,
        categories,
        force: { repulsion: 160, edgeLength: [60, 120] },
        edgeSymbol: ['none', 'arrow'],
        edgeSymbolSize: 8,
        label: { show: chain.nodes.length <= 150, position: 'right', fontSize: 11 },
        lineStyle: { color: 'source', opacity: 0.6, curveness: 0.1 },
        data: chain.nodes.map((node) => ({
          id: node.key,
          name: nodeLabel(node, labels),
          category: levelCategory(node.level),
          symbolSize: symbolSize(reach.get(node.key) ?? 0),
          value: reach.get(node.key) ?? 0,
        })),
        links: chain.edges.map((edge) => ({
          source: edge.source,
          target: edge.target,
          value: edge.opens,
          lineStyle: { width: Math.min(6, 1 + Math.log2(Math.max(edge.opens, 1))) },
        })),
      },
    ],
  }
}

/** Totals above the graph: people who shared, people reached, deepest chain. */
export function summary(chain: ShareChain): { sharers: number; reached: number; depth: number } {
  const sharers = new Set(chain.edges.map((e) => e.source)).size
  const reached = new Set(chain.edges.map((e) => e.target)).size
  const depth = chain.spreaders.reduce((most, s) => Math.max(most, s.depth), 0)
  return { sharers, reached, depth }
}
