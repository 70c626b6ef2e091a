import createClient, { type Middleware } from 'openapi-fetch'
import type { components, paths } from './schema'

export type Schemas = components['schemas']

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** An error the API answered with: `{"error": {"code", "message", "details"}}`. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly field: string | null = null,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** The path the console and the API live under, from the `<base href>` the server wrote. */
export function basePath(): string {
  return new URL(document.baseURI).pathname.replace(/\/+$/, '')
}

interface Hooks {
  csrfToken: () => string | null
  onUnauthorized: () => void
}

const hooks: Hooks = { csrfToken: () => null, onUnauthorized: () => undefined }

/** The session store plugs in here: the CSRF token to send and what a 401 means. */
export function configureClient(next: Partial<Hooks>): void {
  Object.assign(hooks, next)
}

const session: Middleware = {
  onRequest({ request }) {
    const token = hooks.csrfToken()
    if (token && UNSAFE.has(request.method)) request.headers.set('X-CSRF-Token', token)
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401 && !new URL(request.url).pathname.endsWith('/auth/login')) {
      hooks.onUnauthorized()
    }
    return response
  },
}

/** The absolute URL the API paths are relative to (`/api/v1/...` follows it). */
function apiBase(): string {
  return new URL('.', document.baseURI).href.replace(/\/+$/, '')
}

export const api = createClient<paths>({
  baseUrl: apiBase(),
  credentials: 'same-origin',
  fetch: (request) => globalThis.fetch(request),
})
api.use(session)

export async function toApiError(response: Response, body: unknown): Promise<ApiError> {
  const error = (body as { error?: { code?: string; message?: string; details?: { field?: string } } })
    ?.error
  if (error?.message) {
    return new ApiError(error.message, response.status, error.code ?? 'error', error.details?.field ?? null)
  }
  return new ApiError(`${response.status} ${response.statusText}`.trim(), response.status, 'http_error')
}

/** Unwraps an openapi-fetch result: the data, or an ApiError carrying the API's message. */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<T> {
  const { data, error, response } = await call
  if (!response.ok) throw await toApiError(response, error)
  return data as T
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  return String(error)
}
