import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { roleAtLeast, useSession } from './session'

function answer(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } })
}

const ME = {
  workspace_id: 1,
  workspace_slug: 'demo',
  workspace_name: '山茶集',
  role: 'operator',
  user_id: 1,
  api_key_id: null,
  staff_id: null,
  csrf_token: 'csrf-123',
}

describe('session', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => vi.unstubAllGlobals())

  it('ranks roles viewer < staff < operator < admin', () => {
    expect(roleAtLeast('operator', 'staff')).toBe(true)
    expect(roleAtLeast('staff', 'operator')).toBe(false)
    expect(roleAtLeast('admin', 'admin')).toBe(true)
    expect(roleAtLeast(null, 'viewer')).toBe(false)
  })

  it('sends the CSRF token from login on unsafe requests only', async () => {
    const seen: Request[] = []
    vi.stubGlobal(
      'fetch',
      vi.fn(async (request: Request) => {
        seen.push(request)
        return request.url.endsWith('/auth/login') ? answer(200, ME) : new Response(null, { status: 204 })
      }),
    )
    const session = useSession()
    await session.login('a@b.c', 'pw')
    expect(session.can('operator')).toBe(true)
    expect(session.can('admin')).toBe(false)
    await session.logout()
    expect(seen[0].headers.get('X-CSRF-Token')).toBeNull()
    expect(seen[1].method).toBe('POST')
    expect(seen[1].headers.get('X-CSRF-Token')).toBe('csrf-123')
    expect(session.signedIn).toBe(false)
  })

  it("raises the API's message when sign-in is refused", async () => {
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => answer(401, { error: { code: 'unauthorized', message: 'wrong email or password', details: {} } })),
    )
    await expect(useSession().login('a@b.c', 'nope')).rejects.toThrow('wrong email or password')
  })

  it('marks a believed session as expired, but not a session that never was', () => {
    const session = useSession()
    session.expire()
    expect(session.expired).toBe(false)
    session.me = { ...ME, role: 'viewer' }
    session.expire()
    expect(session.expired).toBe(true)
    expect(session.signedIn).toBe(false)
  })
})
