import { api, unwrap, type Schemas } from '@/api/client'

export type ConsoleConfig = Schemas['ConsoleConfig']

let loaded: ConsoleConfig | null = null

/** Runtime settings from the server; read once at start-up. */
export async function loadConfig(): Promise<ConsoleConfig> {
  loaded ??= await unwrap(api.GET('/api/v1/config'))
  return loaded
}

export function config(): ConsoleConfig {
  if (!loaded) throw new Error('loadConfig() has not finished')
  return loaded
}

/** Served by `siyu demo`: pages may offer what the simulators play (scans, staff confirms). */
export function isDemo(): boolean {
  return loaded?.mode === 'demo'
}
