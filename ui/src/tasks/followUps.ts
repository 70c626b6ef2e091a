import { ref, type Ref } from 'vue'
import { api, errorMessage, unwrap, type Schemas } from '@/api/client'

export type FollowUp = Schemas['FollowUpOut']

/** The API's limit on a note's length (characters after trimming). */
export const FOLLOW_UP_MAX = 2000

/** Why a note cannot be sent as written (the i18n key under `followUps`), or null. */
export function followUpProblem(text: string): 'bodyEmpty' | 'tooLong' | null {
  const body = text.trim()
  if (!body) return 'bodyEmpty'
  if ([...body].length > FOLLOW_UP_MAX) return 'tooLong'
  return null
}

/** A customer's recent notes and a way to add one; `add` resolves to the saved note. */
export function useFollowUps(customerId: Ref<number | null>, limit = 5) {
  const notes = ref<FollowUp[]>([])
  const loading = ref(false)
  const error = ref<string | null>(null)
  const saving = ref(false)

  async function load(): Promise<void> {
    const id = customerId.value
    if (id === null) return
    loading.value = true
    error.value = null
    try {
      const page = await unwrap(
        api.GET('/api/v1/customers/{customer_id}/follow-ups', {
          params: { path: { customer_id: id }, query: { limit } },
        }),
      )
      notes.value = page.items
    } catch (failure) {
      error.value = errorMessage(failure)
    } finally {
      loading.value = false
    }
  }

  async function add(text: string): Promise<FollowUp> {
    const id = customerId.value
    if (id === null) throw new Error('no customer')
    saving.value = true
    try {
      const note = await unwrap(
        api.POST('/api/v1/customers/{customer_id}/follow-ups', {
          params: { path: { customer_id: id } },
          body: { body: text.trim() },
        }),
      )
      notes.value = [note, ...notes.value].slice(0, limit)
      return note
    } finally {
      saving.value = false
    }
  }

  return { notes, loading, error, saving, load, add }
}
