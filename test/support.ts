/** Small helpers the integration tests share: a seeded random generator, a sleep, temporary directories. */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { promisify } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Sluice } from '../engine/index.ts'

/** A seeded generator of numbers in [0, 1) (a 32-bit LCG), so a failing run can be repeated. */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Temporary directories a test file makes; `removeAll()` (in its afterAll) deletes them. */
export class TempDirs {
  private readonly dirs: string[] = []
  constructor(private readonly prefix: string) {}

  make(): string {
    const d = mkdtempSync(join(tmpdir(), this.prefix))
    this.dirs.push(d)
    return d
  }

  removeAll(): void {
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true })
  }
}

/** Runs one command with the real psql (unaligned, tuples only) against a Sluice on `port`: its stdout, trimmed. */
export async function psqlCommand(port: number, command: string): Promise<string> {
  const { stdout } = await promisify(execFile)('psql', [
    '-X',
    '-A',
    '-t',
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'sluice',
    '-d',
    'sluice',
    '-c',
    command,
  ])
  return stdout.trim()
}

/** The operators of a materialized view's dataflow on the main thread, by name (e.g. Gather when it runs sharded). */
export function operatorNames(db: Sluice, view: string): string[] {
  const obj = db.engine.get(view)
  if (obj?.kind !== 'materialized_view') throw new Error(`${view} is not a view`)
  return obj.dataflow.operators().map((op) => op.name)
}
