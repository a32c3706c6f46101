/** The LevelDB StateStore (`level`): ordered keys, atomic write batches, durable on close. */
import { Level } from 'level'
import type { ScanOptions, StateStore, StateWrite } from './store.ts'
import { prefixEnd } from './store.ts'
import { SluiceError, SqlState } from '../errors.ts'

type Db = Level<Uint8Array, Uint8Array>

export async function openLevelStore(dir: string): Promise<StateStore> {
  const db: Db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  try {
    await db.open()
  } catch (e) {
    throw new SluiceError(SqlState.io_error, `cannot open the state store in ${dir}: ${e instanceof Error ? e.message : String(e)}`, {
      domain: 'external',
      hint: 'Is another Sluice process using the same data directory?',
      cause: e,
    })
  }
  return new LevelStore(db)
}

class LevelStore implements StateStore {
  constructor(private readonly db: Db) {}

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.db.get(key)) ?? undefined
  }

  async *scan(prefix: Uint8Array, options: ScanOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    const lt = options.lt ?? prefixEnd(prefix)
    const range: { gte: Uint8Array; lt?: Uint8Array; limit?: number; reverse?: boolean } = { gte: options.gte ?? prefix }
    if (lt !== undefined) range.lt = lt
    if (options.limit !== undefined) range.limit = options.limit
    if (options.reverse !== undefined) range.reverse = options.reverse
    for await (const [k, v] of this.db.iterator(range)) yield [k, v]
  }

  async write(batch: readonly StateWrite[]): Promise<void> {
    if (batch.length === 0) return
    await this.db.batch(batch.map((w) => (w.type === 'put' ? { type: 'put' as const, key: w.key, value: w.value } : { type: 'del' as const, key: w.key })))
  }

  async close(): Promise<void> {
    await this.db.close()
  }
}
