import type { Schemas } from '@/api/client'

export type Group = Schemas['GroupOut']
export type GroupMember = Schemas['GroupMemberOut']
export type GroupDetail = Schemas['GroupDetailOut']
export type GroupStatus = 'active' | 'dismissed'

export interface GroupFilters {
  ownerStaffId: number | null
  q: string
  status: GroupStatus | null
}

/** The query of GET /wecom/groups: empty filters are left out. */
export function groupQuery(filters: GroupFilters): { owner_staff_id?: number; q?: string; status?: GroupStatus } {
  const query: ReturnType<typeof groupQuery> = {}
  if (filters.ownerStaffId !== null) query.owner_staff_id = filters.ownerStaffId
  if (filters.q.trim()) query.q = filters.q.trim()
  if (filters.status) query.status = filters.status
  return query
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
