import { ref } from 'vue'
import { api, unwrap, type Schemas } from '@/api/client'

export type StaffMember = Schemas['StaffListItem']

/** Staff members for the filters and pickers of the WeCom pages (first 200 by name). */
export function useStaffOptions() {
  const staff = ref<StaffMember[]>([])
  const error = ref<string | null>(null)

  async function load(): Promise<void> {
    try {
      const page = await unwrap(api.GET('/api/v1/staff', { params: { query: { limit: 200, sort: 'name' } } }))
      staff.value = page.items
    } catch (failure) {
      error.value = failure instanceof Error ? failure.message : String(failure)
    }
  }

  return { staff, error, load }
}
