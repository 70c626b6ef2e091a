export const FIELD_TYPES = ['text', 'number', 'date', 'choice', 'multi_choice'] as const
export type FieldType = (typeof FIELD_TYPES)[number]

export const KEY_PATTERN = /^[a-z][a-z0-9_]{0,63}$/

export function needsOptions(type: FieldType): boolean {
  return type === 'choice' || type === 'multi_choice'
}

/** Options typed one per line (or comma separated): trimmed, blank and repeated ones dropped. */
export function parseOptions(text: string): string[] {
  return [...new Set(text.split(/[\n,，]/).map((o) => o.trim()).filter(Boolean))]
}

export interface FieldDraft {
  key: string
  label: string
  type: FieldType
  options: string
}

/** Each invalid field of the draft with the i18n key (under settings.fields) saying why. */
export function fieldProblems(draft: FieldDraft, editing: boolean): Partial<Record<'key' | 'label' | 'options', string>> {
  const problems: Partial<Record<'key' | 'label' | 'options', string>> = {}
  if (!editing && !KEY_PATTERN.test(draft.key)) problems.key = 'keyInvalid'
  if (!draft.label.trim()) problems.label = 'labelRequired'
  if (needsOptions(draft.type) && parseOptions(draft.options).length === 0) problems.options = 'optionsRequired'
  return problems
}
