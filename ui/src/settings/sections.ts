export const SECTIONS = ['workspace', 'users', 'api-keys', 'custom-fields', 'merge-rules', 'audit'] as const
export type Section = (typeof SECTIONS)[number]
