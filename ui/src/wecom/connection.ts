import type { Schemas } from '@/api/client'

export type Connection = Schemas['ConnectionOut']
export type ConnectionIn = Schemas['ConnectionIn']
export type CallbackStats = Schemas['CallbackStatsOut']

export interface ConnectionForm {
  corpId: string
  agentId: string
  contactSecret: string
  directorySecret: string
  apiBaseUrl: string
}

export type FormProblem = 'corpIdRequired' | 'corpIdInvalid' | 'contactSecretRequired' | 'apiBaseUrlInvalid'

export function emptyForm(current: Connection | null): ConnectionForm {
  return {
    corpId: current?.corp_id ?? '',
    agentId: current?.agent_id ?? '',
    contactSecret: '',
    directorySecret: '',
    apiBaseUrl: current?.api_base_url ?? 'https://qyapi.weixin.qq.com',
  }
}

/** What is wrong with the form, by field; secrets are only required before the first connect. */
export function formProblems(form: ConnectionForm, connected: boolean): Partial<Record<keyof ConnectionForm, FormProblem>> {
  const problems: Partial<Record<keyof ConnectionForm, FormProblem>> = {}
  const corpId = form.corpId.trim()
  if (!corpId) problems.corpId = 'corpIdRequired'
  else if (!/^[A-Za-z0-9]+$/.test(corpId)) problems.corpId = 'corpIdInvalid'
  if (!connected && !form.contactSecret.trim()) problems.contactSecret = 'contactSecretRequired'
  if (!/^https?:\/\/[^/\s]+/.test(form.apiBaseUrl.trim())) problems.apiBaseUrl = 'apiBaseUrlInvalid'
  return problems
}

/** The PUT body: secrets left empty are not sent, so the stored ones are kept. */
export function connectionPayload(form: ConnectionForm): ConnectionIn {
  const body: ConnectionIn = {
    corp_id: form.corpId.trim(),
    agent_id: form.agentId.trim() || null,
    api_base_url: form.apiBaseUrl.trim(),
  }
  if (form.contactSecret.trim()) body.contact_secret = form.contactSecret.trim()
  if (form.directorySecret.trim()) body.directory_secret = form.directorySecret.trim()
  return body
}

export function statusTheme(status: string): 'success' | 'warning' | 'danger' {
  if (status === 'verified') return 'success'
  return status === 'failing' ? 'danger' : 'warning'
}
