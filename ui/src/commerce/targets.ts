/** An order field a file column can be mapped to (from GET /api/v1/imports/orders/fields). */
export interface TargetField {
  name: string
  required: boolean
}

export const FINISHED = new Set(['succeeded', 'failed'])

/** Required targets that the mapping leaves without a column. */
export function missingRequired(fields: readonly TargetField[], columns: Record<string, string | undefined>): string[] {
  return fields.filter((f) => f.required && !columns[f.name]).map((f) => f.name)
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
