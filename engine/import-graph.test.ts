/**
 * The runtime imports of engine/ and server/ form no cycle (type-only imports do not count: they
 * vanish when compiled). A cycle makes module initialization order matter; engine/exec/statement.ts
 * and engine/exec/dml.ts had one until planning moved into engine/exec/plan-statement.ts.
 */
import { describe, expect, it } from 'vitest'
import { readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sources(path, out)
    else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) out.push(path)
  }
  return out
}

/** Each cycle once, as `a.ts -> b.ts -> ...` (paths from the repository root). */
function importCycles(files: readonly string[]): string[] {
  const known = new Set(files)
  const edges = new Map<string, string[]>()
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const deps = [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^'"]*?from\s+'(\.[^']+)'/gm)]
      .map((m) => resolve(dirname(file), m[1]))
      .filter((d) => known.has(d))
    edges.set(file, deps)
  }
  const cycles: string[] = []
  const state = new Map<string, 'open' | 'done'>()
  const stack: string[] = []
  const visit = (file: string): void => {
    state.set(file, 'open')
    stack.push(file)
    for (const dep of edges.get(file) ?? []) {
      if (state.get(dep) === 'open')
        cycles.push(
          stack
            .slice(stack.indexOf(dep))
            .map((f) => relative(root, f))
            .join(' -> '),
        )
      else if (!state.has(dep)) visit(dep)
    }
    stack.pop()
    state.set(file, 'done')
  }
  for (const file of files) if (!state.has(file)) visit(file)
  return cycles
}

describe('the import graph', () => {
  it('has no cycle among runtime imports', () => {
    const files = [...sources(join(root, 'engine')), ...sources(join(root, 'server'))]
    expect(files.length).toBeGreaterThan(100)
    expect(importCycles(files)).toEqual([])
  })
})
