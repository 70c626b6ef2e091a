import { describe, expect, it, vi } from 'vitest'
import { acceptOf, clampElement, debounce, fileProblem, formatSize, materialForm, newElement } from './materials'

describe('file checks before upload', () => {
  it('accepts what the kind takes and names what it does not', () => {
    expect(fileProblem('image', 'file', { name: 'a.PNG', size: 1000 })).toBeNull()
    expect(fileProblem('image', 'file', { name: 'a.gif', size: 1000 })).toEqual({ key: 'wrongType', allowed: '.jpg .jpeg .png' })
    expect(fileProblem('video', 'file', { name: 'a.mp4', size: 11 * 1024 * 1024 })).toEqual({ key: 'tooLarge', mb: 10 })
    expect(fileProblem('file', 'file', { name: '价目表.xlsx', size: 19 * 1024 * 1024 })).toBeNull()
    expect(fileProblem('link', 'cover', { name: 'c.jpg', size: 3 * 1024 * 1024 })).toEqual({ key: 'tooLarge', mb: 2 })
    expect(fileProblem('image', 'file', { name: 'noext', size: 10 })).toEqual({ key: 'wrongType', allowed: '.jpg .jpeg .png' })
  })

  it('gives file inputs the accepted extensions', () => {
    expect(acceptOf('video', 'file')).toBe('.mp4')
    expect(acceptOf('miniprogram', 'cover')).toBe('.jpg,.jpeg,.png')
    expect(acceptOf('text', 'file')).toBe('')
  })
})

describe('materialForm', () => {
  it('sends the fields of the kind, its tags and files, and drops the rest', () => {
    const cover = new File(['x'], 'c.png', { type: 'image/png' })
    const form = materialForm(
      'link',
      { title: ' 新品 ', url: 'https://a.example', content: 'ignored', tags: ['春季', ' ', '新品'], material_group_id: 3 },
      null,
      cover,
    )
    expect(form.get('kind')).toBe('link')
    expect(form.get('title')).toBe('新品')
    expect(form.get('url')).toBe('https://a.example')
    expect(form.get('content')).toBeNull()
    expect(form.getAll('tags')).toEqual(['春季', '新品'])
    expect(form.get('material_group_id')).toBe('3')
    expect((form.get('cover') as File).name).toBe('c.png')
  })

  it('sends no file to a kind that takes none', () => {
    const file = new File(['x'], 'a.pdf')
    const form = materialForm('text', { title: 't', content: '你好' }, file)
    expect(form.get('file')).toBeNull()
    expect(form.get('content')).toBe('你好')
  })
})

describe('poster elements', () => {
  it('places a new element in the middle, inside the background', () => {
    const qr = newElement('qr', 750, 1000)
    expect(qr.size).toBe(188)
    expect(qr.x + qr.size).toBeLessThanOrEqual(750)
    expect(qr.y + qr.size).toBeLessThanOrEqual(1000)
    const name = newElement('name', 750, 1000)
    expect(name.y + (name.font_size ?? 0)).toBeLessThanOrEqual(1000)
  })

  it('clamps an element that sticks out, and keeps one that fits', () => {
    expect(clampElement({ kind: 'qr', x: 700, y: -5, size: 300, color: '#000000' }, 750, 1000)).toMatchObject({ x: 450, y: 0, size: 300 })
    expect(clampElement({ kind: 'name', x: 0, y: 0, size: 100, font_size: 30 }, 750, 1000)).toMatchObject({ x: 0, y: 0 })
    expect(clampElement({ kind: 'avatar', x: 0, y: 0, size: 2000 }, 750, 1000).size).toBe(750)
  })
})

describe('helpers', () => {
  it('formats sizes', () => {
    expect(formatSize(512)).toBe('512 B')
    expect(formatSize(2048)).toBe('2.0 KB')
    expect(formatSize(5 * 1024 * 1024)).toBe('5.0 MB')
    expect(formatSize(null)).toBe('')
  })

  it('debounces calls to the last one', () => {
    vi.useFakeTimers()
    const seen: number[] = []
    const call = debounce((n: number) => seen.push(n), 300)
    call(1)
    call(2)
    vi.advanceTimersByTime(299)
    expect(seen).toEqual([])
    vi.advanceTimersByTime(1)
    expect(seen).toEqual([2])
    call(3)
    call.cancel()
    vi.advanceTimersByTime(500)
    expect(seen).toEqual([2])
    vi.useRealTimers()
  })
})
