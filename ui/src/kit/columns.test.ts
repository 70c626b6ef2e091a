import { beforeEach, describe, expect, it } from 'vitest'
import { nextTick } from 'vue'
import { useColumnChoice } from './columns'

const ALL = ['name', 'mobile', 'city', 'remark'] as const

describe('useColumnChoice', () => {
  beforeEach(() => localStorage.clear())

  it('starts from the defaults when nothing was saved', () => {
    expect(useColumnChoice('t', ALL, ['name', 'mobile']).value).toEqual(['name', 'mobile'])
  })

  it('remembers a choice across page loads', async () => {
    const first = useColumnChoice('t', ALL, ['name'])
    first.value = ['city', 'remark']
    await nextTick()
    expect(useColumnChoice('t', ALL, ['name']).value).toEqual(['city', 'remark'])
  })

  it('keeps choices per table', async () => {
    const customers = useColumnChoice('customers', ALL, ['name'])
    customers.value = ['remark']
    await nextTick()
    expect(useColumnChoice('orders', ALL, ['name']).value).toEqual(['name'])
  })

  it('drops columns that no longer exist and falls back when nothing is left', () => {
    localStorage.setItem('siyu.columns.t', JSON.stringify(['gone', 'city']))
    expect(useColumnChoice('t', ALL, ['name']).value).toEqual(['city'])
    localStorage.setItem('siyu.columns.t', JSON.stringify(['gone']))
    expect(useColumnChoice('t', ALL, ['name']).value).toEqual(['name'])
    localStorage.setItem('siyu.columns.t', '{not json')
    expect(useColumnChoice('t', ALL, ['name']).value).toEqual(['name'])
  })
})
