/** Money is integer fen in the API; the console shows yuan. */
export function yuan(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return '—'
  return `¥${(fen / 100).toLocaleString('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`
}

export function dateTime(value: string | null | undefined, locale: string): string {
  if (!value) return '—'
  return new Date(value).toLocaleString(locale, {
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
  })
}

export function date(value: string | null | undefined, locale: string): string {
  if (!value) return '—'
  return new Date(value).toLocaleDateString(locale, { year: 'numeric', month: '2-digit', day: '2-digit' })
}
