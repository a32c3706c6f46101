import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { SqlState } from './errors.ts'

describe('docs/errors.md', () => {
  it('lists every SQLSTATE the engine can raise', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8')
    const missing = Object.entries(SqlState).filter(([, code]) => !doc.includes(`| ${code} |`))
    expect(missing).toEqual([])
  })
})
