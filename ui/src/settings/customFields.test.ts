import { describe, expect, it } from 'vitest'
import { fieldProblems, parseOptions } from './customFields'

describe('parseOptions', () => {
  it('splits on lines and commas, trims and drops blanks and repeats', () => {
    expect(parseOptions('金卡\n 银卡 ,铜卡，金卡\n\n')).toEqual(['金卡', '银卡', '铜卡'])
    expect(parseOptions('  ')).toEqual([])
  })
})

describe('fieldProblems', () => {
  it('names an invalid key, an empty label and missing choices', () => {
    expect(fieldProblems({ key: '1level', label: ' ', type: 'choice', options: '' }, false)).toEqual({
      key: 'keyInvalid',
      label: 'labelRequired',
      options: 'optionsRequired',
    })
  })

  it('accepts a valid text field and ignores the key when editing', () => {
    expect(fieldProblems({ key: 'nick_name', label: '昵称', type: 'text', options: '' }, false)).toEqual({})
    expect(fieldProblems({ key: '', label: '等级', type: 'choice', options: '金' }, true)).toEqual({})
  })
})
