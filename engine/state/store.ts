/**
 * The state store interface: an ordered byte-key/value store with atomic batches. Operators and
 * the catalog never see it directly; they go through typed tables (table-rows, catalog-store)
 * that encode keys with codec.ts.
 */

export type StateWrite =
  | { readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'del'; readonly key: Uint8Array }

export interface ScanOptions {
  readonly gte?: Uint8Array
  readonly lt?: Uint8Array
  readonly limit?: number
  readonly reverse?: boolean
}

export interface StateStore {
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  /** Keys starting with `prefix`, in byte order. */
  scan(prefix: Uint8Array, options?: ScanOptions): AsyncIterable<[Uint8Array, Uint8Array]>
  /** Applies every write or none (one atomic batch). */
  write(batch: readonly StateWrite[]): Promise<void>
  close(): Promise<void>
}

/** The smallest key greater than every key starting with `prefix`. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = Uint8Array.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++
      return end.subarray(0, i + 1)
    }
  }
  return undefined
}
