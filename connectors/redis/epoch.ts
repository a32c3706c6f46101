/**
 * One epoch of a Redis sink as Redis operations: the hashes to write and delete and the sorted-set
 * members to add and remove, computed from the epoch's net changes at preCommit. This is also the
 * write-ahead form (compact JSON of texts, key suffixes without the prefix), so commit, and a
 * commit repeated after a restart, replays exactly these operations.
 */
import type { ColumnSchema } from '../../engine/connector.ts'
import type { KeyChange, TextRow } from '../upsert/net-changes.ts'
import type { RedisSinkConfig, ZsetConfig } from './options.ts'

/** How a NULL key, group or member value is spelled inside a Redis key (as in COPY's text format). */
export const NULL_TEXT = '\\N'

export interface RedisEpoch {
  /** Hash keys (after the prefix) whose row is gone. */
  readonly deletes: string[]
  /** [hash key after the prefix, one text per column (null: field absent)]. */
  readonly upserts: [string, ...(string | null)[]][]
  /** [set name suffix (':' + group values, or ''), score, member]. */
  readonly zadd: [string, string, string][]
  /** [set name suffix, member]. */
  readonly zrem: [string, string][]
}

/** Key values joined by ':' (no escaping: a ':' inside a value reads as a separator). */
export function joinValues(row: TextRow, columns: readonly number[]): string {
  let out = ''
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) out += ':'
    out += row[columns[i]] ?? NULL_TEXT
  }
  return out
}

function setSuffix(row: TextRow, z: ZsetConfig): string {
  return z.group.length === 0 ? '' : `:${joinValues(row, z.group)}`
}

/** A score as Redis parses it, or undefined when the row has none (NULL, NaN): not in the set. */
function scoreText(text: string | null): string | undefined {
  if (text === null || text === 'NaN') return undefined
  if (text === 'Infinity') return '+inf'
  if (text === '-Infinity') return '-inf'
  return text
}

export function planEpoch(changes: readonly KeyChange[], config: RedisSinkConfig): RedisEpoch {
  const epoch: RedisEpoch = { deletes: [], upserts: [], zadd: [], zrem: [] }
  const all = config.key.map((_k, i) => i)
  const z = config.zset
  for (const change of changes) {
    const hash = joinValues(change.key, all)
    if (change.row === undefined) epoch.deletes.push(hash)
    else epoch.upserts.push([hash, ...change.row])
    if (z === undefined) continue
    let kept: string | undefined = undefined
    if (change.row !== undefined) {
      const set = setSuffix(change.row, z)
      const member = joinValues(change.row, z.member)
      const score = scoreText(change.row[z.score])
      if (score === undefined) epoch.zrem.push([set, member])
      else {
        epoch.zadd.push([set, score, member])
        kept = JSON.stringify([set, member])
      }
    }
    // A retracted row's member leaves its set, unless the key's new row is that same member
    // there (an update of the score); a row that moved to another group leaves the old one.
    const removed = new Set<string>()
    for (const old of change.retracted) {
      const pair: [string, string] = [setSuffix(old, z), joinValues(old, z.member)]
      const id = JSON.stringify(pair)
      if (id === kept || removed.has(id)) continue
      removed.add(id)
      epoch.zrem.push(pair)
    }
  }
  return epoch
}

export function isEmptyEpoch(e: RedisEpoch): boolean {
  return e.deletes.length === 0 && e.upserts.length === 0 && e.zadd.length === 0 && e.zrem.length === 0
}

export function encodeEpoch(e: RedisEpoch): Uint8Array {
  return Buffer.from(JSON.stringify([e.deletes, e.upserts, e.zadd, e.zrem]), 'utf8')
}

export function decodeEpoch(bytes: Uint8Array): RedisEpoch {
  const [deletes, upserts, zadd, zrem] = JSON.parse(
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  ) as [RedisEpoch['deletes'], RedisEpoch['upserts'], RedisEpoch['zadd'], RedisEpoch['zrem']]
  return { deletes, upserts, zadd, zrem }
}

/** The hash fields of an upsert: [names with values, values], [names of NULL columns]. */
export function hashFields(
  columns: readonly ColumnSchema[],
  values: readonly (string | null)[],
): { set: [string, string][]; absent: string[] } {
  const set: [string, string][] = []
  const absent: string[] = []
  for (let c = 0; c < columns.length; c++) {
    const v = values[c]
    if (v === null || v === undefined) absent.push(columns[c].name)
    else set.push([columns[c].name, v])
  }
  return { set, absent }
}
