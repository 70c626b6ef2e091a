import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { basePath } from '@/api/client'
import { useSession, type Role } from '@/workspace/session'

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
    minRole?: Role
    titleKey?: string
  }
}

export const router = createRouter({
  history: createWebHistory(`${basePath()}/`),
  routes: [
    { path: '/login', name: 'login', component: () => import('@/workspace/LoginPage.vue'), meta: { public: true } },
    {
      path: '/sidebar',
      name: 'sidebar',
      component: () => import('@/sidebar/SidebarPage.vue'),
      meta: { minRole: 'staff' },
    },
    {
      path: '/',
      component: () => import('@/workspace/ConsoleLayout.vue'),
      children: [
        {
          path: '',
          name: 'home',
          component: () => import('@/analytics/HomePage.vue'),
          meta: { titleKey: 'nav.home' },
        },
        {
          path: 'customers',
          name: 'customers',
          component: () => import('@/customers/CustomersPage.vue'),
          meta: { titleKey: 'nav.customers' },
        },
        {
          path: 'customers/:id(\\d+)',
          name: 'customer',
          component: () => import('@/customers/Customer360Page.vue'),
          props: (route) => ({ id: Number(route.params.id) }),
          meta: { titleKey: 'customer.title' },
        },
        {
          path: 'tags',
          name: 'tags',
          component: () => import('@/tags/TagsPage.vue'),
          meta: { titleKey: 'nav.tags' },
        },
        {
          path: 'live-codes',
          name: 'live-codes',
          component: () => import('@/acquisition/LiveCodesPage.vue'),
          meta: { titleKey: 'nav.liveCodes' },
        },
        {
          path: 'live-codes/:id(\\d+)/stats',
          name: 'live-code-stats',
          component: () => import('@/acquisition/LiveCodeStatsPage.vue'),
          props: (route) => ({ id: Number(route.params.id) }),
          meta: { titleKey: 'nav.liveCodes' },
        },
        {
          path: 'materials',
          name: 'materials',
          component: () => import('@/content/MaterialsPage.vue'),
          meta: { titleKey: 'nav.materials' },
        },
        {
          path: 'segments',
          name: 'segments',
          component: () => import('@/segments/SegmentsPage.vue'),
          meta: { titleKey: 'nav.segments' },
        },
        {
          path: 'segments/new',
          name: 'segment-new',
          component: () => import('@/segments/SegmentBuilderPage.vue'),
          meta: { titleKey: 'segments.new', minRole: 'operator' },
        },
        {
          path: 'segments/:id(\\d+)',
          name: 'segment-edit',
          component: () => import('@/segments/SegmentBuilderPage.vue'),
          props: (route) => ({ id: Number(route.params.id) }),
          meta: { titleKey: 'segments.edit', minRole: 'operator' },
        },
        {
          path: 'broadcasts',
          name: 'broadcasts',
          component: () => import('@/messaging/BroadcastsPage.vue'),
          meta: { titleKey: 'nav.broadcasts' },
        },
        {
          path: 'broadcasts/new',
          name: 'broadcast-new',
          component: () => import('@/messaging/BroadcastComposerPage.vue'),
          meta: { titleKey: 'broadcasts.new', minRole: 'operator' },
        },
        {
          path: 'broadcasts/settings',
          name: 'broadcast-settings',
          component: () => import('@/messaging/MessagingSettingsPage.vue'),
          meta: { titleKey: 'broadcasts.settings', minRole: 'admin' },
        },
        {
          path: 'broadcasts/:id(\\d+)/edit',
          name: 'broadcast-edit',
          component: () => import('@/messaging/BroadcastComposerPage.vue'),
          props: (route) => ({ id: Number(route.params.id) }),
          meta: { titleKey: 'broadcasts.edit', minRole: 'operator' },
        },
        {
          path: 'broadcasts/:id(\\d+)',
          name: 'broadcast',
          component: () => import('@/messaging/BroadcastResultsPage.vue'),
          props: (route) => ({ id: Number(route.params.id) }),
          meta: { titleKey: 'nav.broadcasts' },
        },
        {
          path: 'share-chain',
          name: 'share-chain',
          component: () => import('@/content/ShareChainPage.vue'),
          meta: { titleKey: 'shareChain.title' },
        },
        {
          path: 'insights',
          name: 'insights',
          component: () => import('@/analytics/InsightsPage.vue'),
          meta: { titleKey: 'nav.insights' },
        },
        {
          path: 'imports/orders',
          name: 'orders-import',
          component: () => import('@/commerce/OrdersImportPage.vue'),
          meta: { titleKey: 'nav.ordersImport', minRole: 'operator' },
        },
        {
          path: 'staff',
          name: 'staff',
          component: () => import('@/staff/StaffPage.vue'),
          meta: { titleKey: 'staff.title' },
        },
        {
          path: 'wecom/connection',
          name: 'wecom-connection',
          component: () => import('@/wecom/ConnectionPage.vue'),
          meta: { titleKey: 'wecom.connection.title', minRole: 'admin' },
        },
        {
          path: 'wecom/sync',
          name: 'wecom-sync',
          component: () => import('@/wecom/SyncPage.vue'),
          meta: { titleKey: 'wecom.sync.title', minRole: 'operator' },
        },
        {
          path: 'wecom/lost-customers',
          name: 'wecom-lost',
          component: () => import('@/wecom/LostCustomersPage.vue'),
          meta: { titleKey: 'wecom.lost.title', minRole: 'operator' },
        },
        {
          path: 'wecom/handover',
          name: 'wecom-handover',
          component: () => import('@/wecom/HandoverPage.vue'),
          meta: { titleKey: 'wecom.handover.title', minRole: 'admin' },
        },
        {
          path: 'wecom/groups',
          name: 'wecom-groups',
          component: () => import('@/wecom/GroupsPage.vue'),
          meta: { titleKey: 'wecom.groups.title', minRole: 'operator' },
        },
        {
          path: 'settings/:section?',
          name: 'settings',
          component: () => import('@/settings/SettingsPage.vue'),
          meta: { titleKey: 'settings.title', minRole: 'admin' },
        },
        {
          path: ':rest(.*)*',
          name: 'not-found',
          component: () => import('@/workspace/NotFoundPage.vue'),
        },
      ],
    },
  ],
})

function loginRedirect(to: RouteLocationNormalized) {
  return { name: 'login', query: to.fullPath === '/' ? {} : { redirect: to.fullPath } }
}

router.beforeEach(async (to) => {
  const session = useSession()
  if (to.meta.public) return true
  if (!session.checked) await session.refresh()
  if (!session.signedIn) return loginRedirect(to)
  const minimum = to.matched.map((r) => r.meta.minRole).find((role) => role !== undefined)
  if (minimum && !session.can(minimum)) return { name: 'customers' }
  return true
})

/** The server ended our session: go to the login page, saying why, and come back after. */
export function sessionExpired(): void {
  const session = useSession()
  session.expire()
  const current = router.currentRoute.value
  if (!current.meta.public) void router.push(loginRedirect(current))
}
