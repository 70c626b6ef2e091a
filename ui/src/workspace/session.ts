import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import { api, configureClient, unwrap, type Schemas } from '@/api/client'

export type Me = Schemas['MeOut']
export type Role = Me['role']

const RANK: Record<Role, number> = { viewer: 0, staff: 1, operator: 2, admin: 3 }

export function roleAtLeast(role: Role | null | undefined, minimum: Role): boolean {
  return role != null && RANK[role] >= RANK[minimum]
}

export const useSession = defineStore('session', () => {
  const me = ref<Me | null>(null)
  const checked = ref(false)
  const expired = ref(false)

  const role = computed<Role | null>(() => me.value?.role ?? null)
  const signedIn = computed(() => me.value !== null)

  function can(minimum: Role): boolean {
    return roleAtLeast(role.value, minimum)
  }

  /** Asks the server who we are; a missing or ended session leaves `me` empty. */
  async function refresh(): Promise<void> {
    const { data, response } = await api.GET('/api/v1/auth/me')
    me.value = response.ok && data ? data : null
    checked.value = true
  }

  async function login(email: string, password: string): Promise<void> {
    me.value = await unwrap(api.POST('/api/v1/auth/login', { body: { email, password } }))
    expired.value = false
    checked.value = true
  }

  async function logout(): Promise<void> {
    await api.POST('/api/v1/auth/logout')
    me.value = null
  }

  /** The server answered 401 for a session we believed in. */
  function expire(): void {
    if (me.value !== null) expired.value = true
    me.value = null
  }

  configureClient({ csrfToken: () => me.value?.csrf_token ?? null })

  return { me, checked, expired, role, signedIn, can, refresh, login, logout, expire }
})
