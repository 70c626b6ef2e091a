/** The segment rule tree as the builder edits it, and its conversion to and from the API's JSON. */

export type Json = Record<string, unknown>

export interface GroupNode {
  kind: 'group'
  id: number
  op: 'all' | 'any'
  negate: boolean
  children: RuleNode[]
}

export interface ConditionNode {
  kind: 'condition'
  id: number
  negate: boolean
  data: Json
}

export type RuleNode = GroupNode | ConditionNode

export const CONDITION_TYPES = [
  'tag',
  'profile',
  'orders',
  'event',
  'rfm',
  'follow',
  'stage',
  'identity',
  'clv',
  'group',
  'segment',
  'subscription',
] as const
export type ConditionType = (typeof CONDITION_TYPES)[number]

export const RFM_CLASSES = [
  'important_value',
  'important_develop',
  'important_keep',
  'important_retain',
  'general_value',
  'general_develop',
  'general_keep',
  'general_retain',
] as const

let nextId = 1
function id(): number {
  return nextId++
}

/** A new condition of the type with sensible values the operator then edits. */
export function defaults(type: ConditionType): Json {
  switch (type) {
    case 'tag':
      return { type, op: 'has_any', tag_ids: [] }
    case 'profile':
      return { type, field: 'city', op: 'eq', value: '' }
    case 'orders':
      return { type, metric: 'count', op: 'gte', value: 1, within_days: 365 }
    case 'event':
      return { type, event_type: 'product_view', op: 'at_least', count: 1, within_days: 30, where: [] }
    case 'rfm':
      return { type, op: 'class_in', classes: ['important_value'] }
    case 'follow':
      return { type, op: 'has', status: 'active' }
    case 'stage':
      return { type, op: 'in', stages: [] }
    case 'identity':
      return { type, op: 'has', kind: 'mobile' }
    case 'clv':
      return { type, metric: 'p_alive', op: 'gte', value: 0.5 }
    case 'group':
      return { type, op: 'in_any' }
    case 'segment':
      return { type, op: 'in', segment_id: null }
    case 'subscription':
      return { type, op: 'not_opted_out', channel: 'any' }
  }
}

export function condition(type: ConditionType): ConditionNode {
  return { kind: 'condition', id: id(), negate: false, data: defaults(type) }
}

export function group(op: 'all' | 'any' = 'all', children: RuleNode[] = []): GroupNode {
  return { kind: 'group', id: id(), op, negate: false, children }
}

/** The API JSON of a node: groups as {"all"|"any": [...]}, negation as {"not": ...}. */
export function toRule(node: RuleNode): Json {
  const inner: Json =
    node.kind === 'group' ? { [node.op]: node.children.map(toRule) } : { ...node.data }
  return node.negate ? { not: inner } : inner
}

/** The builder's tree of an API rule (any shape the API accepts). */
export function fromRule(rule: Json): RuleNode {
  if ('not' in rule && rule.not && typeof rule.not === 'object') {
    const inner = fromRule(rule.not as Json)
    return { ...inner, negate: !inner.negate }
  }
  for (const op of ['all', 'any'] as const) {
    if (Array.isArray(rule[op])) return group(op, (rule[op] as Json[]).map(fromRule))
  }
  return { kind: 'condition', id: id(), negate: false, data: { ...rule } }
}

/** JSON path of every node as the API names it in errors, e.g. "rule.all[2]". */
export function paths(node: RuleNode, at = 'rule'): Map<number, string> {
  const found = new Map<number, string>()
  const own = node.negate ? `${at}.not` : at
  found.set(node.id, own)
  if (node.kind === 'group') {
    node.children.forEach((child, index) => {
      for (const [key, value] of paths(child, `${own}.${node.op}[${index}]`)) found.set(key, value)
    })
  }
  return found
}

/** The node an API error's field points into (the deepest whose path prefixes it). */
export function nodeForError(root: RuleNode, field: string): number | null {
  let best: [number, number] | null = null
  for (const [nodeId, path] of paths(root)) {
    const hit = field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`)
    if (hit && (!best || path.length > best[1])) best = [nodeId, path.length]
  }
  return best ? best[0] : null
}

/** Remove a node anywhere below the root; the root itself stays. */
export function removeNode(root: GroupNode, target: number): boolean {
  const index = root.children.findIndex((child) => child.id === target)
  if (index >= 0) {
    root.children.splice(index, 1)
    return true
  }
  return root.children.some((child) => child.kind === 'group' && removeNode(child, target))
}
