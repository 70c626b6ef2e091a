import { DialogPlugin, MessagePlugin } from 'tdesign-vue-next'
import { computed, onBeforeUnmount, ref, type Ref } from 'vue'
import { errorMessage } from '@/api/client'
import { isFinal, tally } from './handover'

export interface HandoverSource<C, T> {
  /** The handing-over member's WeCom userid, or null while none is chosen. */
  from: () => string | null
  candidates: (from: string) => Promise<C[]>
  transfers: (from: string) => Promise<T[]>
  pollMs: number
}

export interface HandoverSubmission<T> {
  header: string
  body: string
  confirmLabel: string
  cancelLabel: string
  send: () => Promise<T[]>
  /** The success message, given how many were accepted and how many refused before calling. */
  done: (accepted: number, refused: number) => string
}

/**
 * A handover tab's two lists: the member's candidates (customers or groups) and their
 * transfers, polled while any is still open; plus the confirm-then-submit step.
 */
export function useHandoverLists<C, T extends { status: string }>(source: HandoverSource<C, T>) {
  const picked = ref<string[]>([])
  const candidates = ref([]) as Ref<C[]>
  const candidatesLoading = ref(false)
  const candidatesError = ref<string | null>(null)
  const transfers = ref([]) as Ref<T[]>
  const transfersError = ref<string | null>(null)
  const submitting = ref(false)
  let timer: number | undefined

  const pending = computed(() => transfers.value.some((x) => !isFinal(x)))
  const counts = computed(() => tally(transfers.value))

  async function loadCandidates(): Promise<void> {
    candidates.value = []
    picked.value = []
    const from = source.from()
    if (!from) return
    candidatesLoading.value = true
    candidatesError.value = null
    try {
      candidates.value = await source.candidates(from)
    } catch (error) {
      candidatesError.value = errorMessage(error)
    } finally {
      candidatesLoading.value = false
    }
  }

  async function loadTransfers(): Promise<void> {
    window.clearTimeout(timer)
    const from = source.from()
    if (!from) {
      transfers.value = []
      return
    }
    try {
      transfers.value = await source.transfers(from)
      transfersError.value = null
    } catch (error) {
      transfersError.value = errorMessage(error)
    }
    if (pending.value) timer = window.setTimeout(() => void loadTransfers(), source.pollMs)
  }

  function reload(): Promise<unknown> {
    return Promise.all([loadCandidates(), loadTransfers()])
  }

  function submit(submission: HandoverSubmission<T>): void {
    const dialog = DialogPlugin.confirm({
      header: submission.header,
      body: submission.body,
      theme: 'warning',
      confirmBtn: submission.confirmLabel,
      cancelBtn: submission.cancelLabel,
      onConfirm: async () => {
        dialog.destroy()
        submitting.value = true
        try {
          const created = await submission.send()
          const refused = created.filter((x) => x.status === 'refused').length
          void MessagePlugin.success(submission.done(created.length - refused, refused))
          await reload()
        } catch (error) {
          void MessagePlugin.error(errorMessage(error))
        } finally {
          submitting.value = false
        }
      },
    })
  }

  onBeforeUnmount(() => window.clearTimeout(timer))

  return {
    picked,
    candidates,
    candidatesLoading,
    candidatesError,
    transfers,
    transfersError,
    submitting,
    pending,
    counts,
    reload,
    submit,
  }
}
