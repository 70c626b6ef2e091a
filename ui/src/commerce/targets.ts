/** Order fields a file column can be mapped to, in the order the mapping step shows them. */
export const TARGET_FIELDS = [
  { name: 'order_id', required: true },
  { name: 'status', required: true },
  { name: 'ordered_at', required: true },
  { name: 'paid_at', required: false },
  { name: 'paid', required: true },
  { name: 'total', required: false },
  { name: 'shipping', required: false },
  { name: 'discount', required: false },
  { name: 'platform_discount', required: false },
  { name: 'refunded', required: false },
  { name: 'buyer_id', required: false },
  { name: 'buyer_nick', required: false },
  { name: 'receiver_name', required: false },
  { name: 'receiver_mobile', required: false },
  { name: 'receiver_province', required: false },
  { name: 'receiver_city', required: false },
  { name: 'receiver_district', required: false },
  { name: 'receiver_address', required: false },
  { name: 'store', required: false },
  { name: 'item_name', required: false },
  { name: 'item_product_id', required: false },
  { name: 'item_sku', required: false },
  { name: 'item_quantity', required: false },
  { name: 'item_unit_price', required: false },
  { name: 'item_amount', required: false },
] as const

export const PLATFORMS = ['tmall', 'taobao', 'jd', 'pdd', 'youzan', 'douyin', 'generic'] as const
export type Platform = (typeof PLATFORMS)[number]

export const FINISHED = new Set(['succeeded', 'failed'])

/** Required targets that the mapping leaves without a column. */
export function missingRequired(columns: Record<string, string | undefined>): string[] {
  return TARGET_FIELDS.filter((f) => f.required && !columns[f.name]).map((f) => f.name)
}

/** A column mapped to two targets is almost always a mistake; name the targets that share one. */
export function duplicateTargets(columns: Record<string, string | undefined>): string[] {
  const seen = new Map<string, string[]>()
  for (const [target, header] of Object.entries(columns)) {
    if (!header) continue
    seen.set(header, [...(seen.get(header) ?? []), target])
  }
  return [...seen.values()].filter((targets) => targets.length > 1).flat()
}
