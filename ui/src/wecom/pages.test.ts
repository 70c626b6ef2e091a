import { describe, expect, it } from 'vitest'
import {
  chosen,
  chosenGroups,
  isFinal,
  requestsNeeded,
  tally,
  type Candidate,
  type GroupCandidate,
  type GroupTransfer,
  type Transfer,
} from './handover'
import { lostCsv, lostQuery, type LostCustomer } from './lost'
import { groupQuery, splitMembers, type GroupMember } from './groups'
import { durationSeconds, entries, formatDuration, isRunning, percent, type SyncRun } from './sync'

const RUN: SyncRun = {
  id: 1,
  kind: 'full',
  status: 'running',
  phase: 'contacts',
  counts: { contacts: 120, staff: 5 },
  fixes: { relations: 3, groups: 0 },
  error: null,
  progress_done: 1,
  progress_total: 2,
  started_at: '2026-12-01T10:00:00Z',
  finished_at: null,
}

describe('sync runs', () => {
  it('counts whole phases and the share of the current one', () => {
    expect(percent(RUN)).toBe(58) // (3 + 0.5) / 6
    expect(percent({ ...RUN, status: 'succeeded', phase: 'done' })).toBe(100)
    expect(percent({ ...RUN, phase: 'departments', progress_total: null })).toBe(0)
  })
  it('knows a running run, its duration and its non-zero fixes', () => {
    expect(isRunning(RUN)).toBe(true)
    expect(isRunning({ ...RUN, status: 'failed' })).toBe(false)
    expect(durationSeconds({ ...RUN, finished_at: '2026-12-01T10:02:05Z' })).toBe(125)
    expect(formatDuration(125)).toBe('2m 5s')
    expect(formatDuration(3720)).toBe('1h 2m')
    expect(entries(RUN.fixes)).toEqual([['relations', 3]])
  })
})

describe('lost customers', () => {
  it('turns the filters into a query covering whole days', () => {
    const query = lostQuery({ staffId: 7, deletedBy: 'customer', range: ['2026-12-01', '2026-12-02'] })
    expect(query.staff_id).toBe(7)
    expect(query.deleted_by).toBe('customer')
    expect(new Date(query.until!).getTime() - new Date(query.since!).getTime()).toBe(2 * 86400 * 1000)
    expect(lostQuery({ staffId: null, deletedBy: null, range: [] })).toEqual({})
  })
  it('exports CSV with quoting and a BOM', () => {
    const row: LostCustomer = {
      id: 1,
      customer_id: 9,
      customer_name: '张, "三"',
      staff_id: 2,
      staff_name: '王',
      department_id: null,
      deleted_by: 'customer',
      detected_by: 'callback',
      occurred_at: '2026-12-01T10:00:00Z',
      alerted_userids: [],
      alerted_at: null,
    }
    const csv = lostCsv([row], ['时间', '客户', 'ID', '员工', '方向', '发现'], (v) => (v === 'customer' ? '客户删员工' : v))
    expect(csv.startsWith('\uFEFF时间,')).toBe(true)
    expect(csv).toContain('"张, ""三"""')
    expect(csv).toContain('客户删员工')
  })
})

describe('handover', () => {
  const candidates: Candidate[] = [
    { customer_id: 1, name: 'a', external_userid: 'wa', added_at: '', recent_onjob: 0, eligible: true, reason: null },
    { customer_id: 2, name: 'b', external_userid: 'wb', added_at: '', recent_onjob: 2, eligible: false, reason: '90' },
    { customer_id: 3, name: 'c', external_userid: 'wc', added_at: '', recent_onjob: 1, eligible: true, reason: null },
  ]
  it('never sends an ineligible customer', () => {
    expect(chosen(candidates, 'all', [])).toEqual(['wa', 'wc'])
    expect(chosen(candidates, 'selected', ['wb', 'wc'])).toEqual(['wc'])
    expect(requestsNeeded(250)).toBe(3)
  })
  it('knows final statuses and tallies them', () => {
    const transfer = { status: 'waiting' } as Transfer
    expect(isFinal(transfer)).toBe(false)
    expect(isFinal({ ...transfer, status: 'customer_refused' })).toBe(true)
    expect(tally([transfer, transfer, { ...transfer, status: 'done' }])).toEqual({ waiting: 2, done: 1 })
  })
  it('never sends an ineligible group, and groups end when WeCom answers', () => {
    const group = { customer_group_id: 1, chat_id: 'wr1', name: '会员群', member_count: 3, recent_onjob: 0, eligible: true, reason: null }
    const groups: GroupCandidate[] = [group, { ...group, chat_id: 'wr2', recent_onjob: 2, eligible: false, reason: '90' }, { ...group, chat_id: 'wr3' }]
    expect(chosenGroups(groups, 'all', [])).toEqual(['wr1', 'wr3'])
    expect(chosenGroups(groups, 'selected', ['wr2', 'wr3'])).toEqual(['wr3'])
    const moved = { status: 'pending' } as GroupTransfer
    expect(isFinal(moved)).toBe(false)
    expect(isFinal({ ...moved, status: 'failed' })).toBe(true)
    expect(tally([moved, { ...moved, status: 'done' }])).toEqual({ pending: 1, done: 1 })
  })
})

describe('groups', () => {
  it('splits members and builds the query', () => {
    const member = { member_type: 'external', status: 'active' } as GroupMember
    const split = splitMembers([member, { ...member, member_type: 'staff' }, { ...member, status: 'left' }])
    expect([split.customers.length, split.staff.length, split.left.length]).toEqual([1, 1, 1])
    expect(groupQuery({ ownerStaffId: null, q: ' 会员 ', status: 'active' })).toEqual({ q: '会员', status: 'active' })
    expect(groupQuery({ ownerStaffId: 7, q: ' ', status: null })).toEqual({ owner_staff_id: 7 })
  })
})
