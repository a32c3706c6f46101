/**
 * The WITH options of a Redis sink, checked once at CREATE SINK:
 *   url (required, redis:// or rediss://), key (row key columns; default the input's stream key),
 *   key_prefix (default '<sink name>:'),
 *   zset (a numeric score column: also keep sorted sets for dashboards), with
 *   zset_key (the set's name; default '<key_prefix>by_<score column>'),
 *   zset_group (columns whose values each get their own set, named '<zset_key>:<values>'),
 *   zset_member (columns forming the member; default the key columns not in zset_group).
 * docs/sql.md "Redis sink" describes the key layout these produce.
 */
import type { ConnectorOptions, SinkSpec } from '../../engine/connector.ts'
import { checkKnownOptions, invalidOption, parseColumnList, rowKey } from '../upsert/options.ts'

export const REDIS_SINK_OPTIONS: readonly string[] = [
  'url',
  'key',
  'key_prefix',
  'zset',
  'zset_key',
  'zset_group',
  'zset_member',
]

const SCORE_KINDS = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric'])

/** Sorted sets kept next to the hashes: one per group, members scored by a column. */
export interface ZsetConfig {
  readonly score: number
  /** The set's name, or the stem its group values are appended to. */
  readonly name: string
  readonly group: readonly number[]
  readonly member: readonly number[]
}

export interface RedisSinkConfig {
  readonly url: string
  readonly key: readonly number[]
  readonly prefix: string
  /** The key holding the last committed epoch. */
  readonly progressKey: string
  readonly zset: ZsetConfig | undefined
}

export function parseRedisOptions(sinkName: string, spec: SinkSpec, options: ConnectorOptions): RedisSinkConfig {
  checkKnownOptions('redis', options, REDIS_SINK_OPTIONS)
  const url = options.get('url')?.trim()
  if (url === undefined || url === '')
    throw invalidOption('connector redis needs option "url"', "e.g. url = 'redis://127.0.0.1:6379'")
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw invalidOption(
      `invalid value "${url}" for option "url" of connector redis`,
      'use redis://host:port[/db] or rediss:// for TLS',
    )
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw invalidOption(`option "url" of connector redis must start with redis:// or rediss://, got "${url}"`)
  }
  const key = rowKey('redis', spec, options)
  const prefix = options.get('key_prefix') ?? `${sinkName}:`
  const score = options.get('zset')
  let zset: ZsetConfig | undefined = undefined
  if (score !== undefined) {
    const [at, ...more] = parseColumnList('redis', 'zset', score, spec.columns)
    if (more.length > 0) throw invalidOption('option "zset" of connector redis names one score column')
    const column = spec.columns[at]
    if (!SCORE_KINDS.has(column.type.kind)) {
      throw invalidOption(`the zset score column "${column.name}" must be numeric, it is ${column.type.kind}`)
    }
    const groupRaw = options.get('zset_group')
    const group = groupRaw === undefined ? [] : parseColumnList('redis', 'zset_group', groupRaw, spec.columns)
    const memberRaw = options.get('zset_member')
    let member =
      memberRaw === undefined
        ? key.filter((k) => !group.includes(k))
        : parseColumnList('redis', 'zset_member', memberRaw, spec.columns)
    if (member.length === 0) member = [...key]
    const name = options.get('zset_key') ?? `${prefix}by_${column.name}`
    if (name === '') throw invalidOption('option "zset_key" of connector redis must not be empty')
    zset = { score: at, name, group, member }
  } else {
    for (const o of ['zset_key', 'zset_group', 'zset_member']) {
      if (options.has(o)) throw invalidOption(`option "${o}" of connector redis needs option "zset" (the score column)`)
    }
  }
  return { url, key, prefix, progressKey: `_sluice:sink:${sinkName}:progress`, zset }
}
