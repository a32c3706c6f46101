/** An in-memory StateStore with the same ordering and atomicity as LevelDB (tests, ':memory:'). */
import type { ScanOptions, StateStore, StateWrite } from './store.ts'
import { prefixEnd } from './store.ts'

function key(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1')
}

export class MemoryStore implements StateStore {
  private readonly data = new Map<string, Uint8Array>()

  async get(k: Uint8Array): Promise<Uint8Array | undefined> {
    return this.data.get(key(k))
  }

  async *scan(prefix: Uint8Array, options: ScanOptions = {}): AsyncIterable<[Uint8Array, Uint8Array]> {
    const lo = key(options.gte ?? prefix)
    const endBytes = options.lt ?? prefixEnd(prefix)
    const hi = endBytes === undefined ? undefined : key(endBytes)
    const p = key(prefix)
    const keys = [...this.data.keys()].filter((k) => k.startsWith(p) && k >= lo && (hi === undefined || k < hi)).sort()
    if (options.reverse === true) keys.reverse()
    let n = 0
    for (const k of keys) {
      if (options.limit !== undefined && n++ >= options.limit) return
      yield [Uint8Array.from(Buffer.from(k, 'latin1')), this.data.get(k)!]
    }
  }

  async write(batch: readonly StateWrite[]): Promise<void> {
    for (const w of batch) {
      if (w.type === 'put') this.data.set(key(w.key), w.value)
      else this.data.delete(key(w.key))
    }
  }

  async close(): Promise<void> {}
}
