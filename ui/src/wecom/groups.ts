import { ApiError, toApiError } from '@/api/client'

/** GET /wecom/groups and /wecom/groups/{id}; typed here until the client is regenerated. */
export interface Group {
  id: number
  chat_id: string
  name: string
  owner_userid: string | null
  owner_staff_id: number | null
  owner_name: string | null
  status: string
  member_count: number
  customer_count: number
  staff_count: number
  group_created_at: string | null
  synced_at: string | null
}

export interface GroupMember {
  id: number
  member_type: 'staff' | 'external'
  member_id: string
  name: string | null
  customer_id: number | null
  customer_name: string | null
  join_time: string | null
  join_scene: number | null
  invitor: string | null
  status: 'active' | 'left'
  left_at: string | null
}

export interface GroupDetail extends Group {
  notice: string | null
  members: GroupMember[]
}

export interface GroupPage {
  items: Group[]
  next_cursor: string | null
}

type Query = Record<string, string | number | null | undefined>

/** A GET of the API, answering the parsed JSON or throwing the API's error. */
export async function getJson<T>(path: string, query: Query = {}): Promise<T> {
  const url = new URL(`api/v1/${path.replace(/^\//, '')}`, document.baseURI)
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, String(value))
  }
  const response = await globalThis.fetch(url, { credentials: 'same-origin' })
  const body: unknown = await response.json().catch(() => null)
  if (!response.ok) throw await toApiError(response, body)
  if (body === null) throw new ApiError('empty answer', response.status, 'http_error')
  return body as T
}

export function groupQuery(filters: { ownerStaffId: number | null; q: string; status: string }): Query {
  return { owner_staff_id: filters.ownerStaffId, q: filters.q.trim(), status: filters.status }
}

/** Active members split into customers and staff; those who left are listed last. */
export function splitMembers(members: GroupMember[]): {
  customers: GroupMember[]
  staff: GroupMember[]
  left: GroupMember[]
} {
  return {
    customers: members.filter((m) => m.status === 'active' && m.member_type === 'external'),
    staff: members.filter((m) => m.status === 'active' && m.member_type === 'staff'),
    left: members.filter((m) => m.status !== 'active'),
  }
}
