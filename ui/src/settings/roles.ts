import type { Role } from '@/workspace/session'

export const ROLES: readonly Role[] = ['viewer', 'staff', 'operator', 'admin']
