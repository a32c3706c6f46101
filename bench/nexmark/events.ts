/**
 * The benchmark's events, from the one Nexmark generator Sluice's datagen uses
 * (connectors/datagen/nexmark.ts), so every engine and the PostgreSQL oracle see identical rows:
 * written as JSON to three Kafka topics (one partition each, as the issue measured), or loaded
 * into PostgreSQL tables for the correctness check.
 */
import { Kafka, logLevel, CompressionTypes } from 'kafkajs'
import type { Client } from 'pg'
import type { NexmarkTable } from '../../connectors/datagen/nexmark.ts'
import { NEXMARK_COLUMNS, NexmarkGenerator } from '../../connectors/datagen/nexmark.ts'
import type { Value } from '../../engine/types/datatype.ts'
import { formatText } from '../../engine/types/text.ts'

/** What fixes the event stream: two runs with the same spec see the same events. */
export interface EventSpec {
  readonly events: number
  /** Events per second of event time (ts(n) = base + n / rate). */
  readonly rate: number
  readonly seed: number
  /** Event time of event 0, ISO. */
  readonly baseTime: string
}

export const TABLES: readonly NexmarkTable[] = ['person', 'auction', 'bid']

/** Rows are generated this many events at a time, so memory stays flat for any event count. */
const SLICE = 50_000

/** The columns of `table`'s rows among the spec's events, a slice at a time. */
export function* slices(spec: EventSpec, table: NexmarkTable): Generator<Value[][]> {
  const gen = new NexmarkGenerator(spec.seed, spec.rate, Date.parse(spec.baseTime) * 1000)
  const width = NEXMARK_COLUMNS[table].length
  for (let from = 0; from < spec.events; from += SLICE) {
    const columns: Value[][] = Array.from({ length: width }, () => [])
    gen.fill(table, from, Math.min(spec.events, from + SLICE), Number.MAX_SAFE_INTEGER, columns)
    if (columns[0].length > 0) yield columns
  }
}

/** One row as the JSON both engines' `format = 'json'` read: timestamps as 'YYYY-MM-DD HH:MM:SS.ffffff'. */
function jsonRow(table: NexmarkTable, columns: Value[][], i: number): string {
  const cols = NEXMARK_COLUMNS[table]
  let out = '{'
  for (let c = 0; c < cols.length; c++) {
    const v = columns[c][i]
    const kind = cols[c].type.kind
    const text = kind === 'int8' ? String(v) : JSON.stringify(formatText(cols[c].type, v))
    out += `${c === 0 ? '' : ','}"${cols[c].name}":${text}`
  }
  return out + '}'
}

/** Topic name of `table` for a spec: the spec is in the name, so a topic is reused only for the same events. */
export function topicOf(prefix: string, table: NexmarkTable): string {
  return `${prefix}${table}`
}

export function topicPrefix(spec: EventSpec): string {
  return `nexmark_${spec.events}_r${spec.rate}_s${spec.seed}_${Date.parse(spec.baseTime)}_`
}

/** Rows of each table among the spec's events (1 : 3 : 46). */
export function rowCounts(spec: EventSpec): Record<NexmarkTable, number> {
  const counts = { person: 0, auction: 0, bid: 0 }
  const full = Math.floor(spec.events / 50)
  counts.person = full
  counts.auction = full * 3
  counts.bid = full * 46
  const rest = spec.events % 50
  if (rest > 0) counts.person++
  counts.auction += Math.max(0, Math.min(rest, 4) - 1)
  counts.bid += Math.max(0, rest - 4)
  return counts
}

/**
 * Writes the three topics (one partition each) unless they already hold exactly the spec's rows;
 * returns the topic prefix. Topics with the wrong count (an interrupted run) are recreated.
 */
export async function ensureTopics(brokers: string, spec: EventSpec, log: (line: string) => void): Promise<string> {
  const prefix = topicPrefix(spec)
  const kafka = new Kafka({ clientId: 'nexmark-bench', brokers: [brokers], logLevel: logLevel.NOTHING })
  const admin = kafka.admin()
  await admin.connect()
  const counts = rowCounts(spec)
  const existing = new Set(await admin.listTopics())
  const missing: NexmarkTable[] = []
  for (const table of TABLES) {
    const topic = topicOf(prefix, table)
    if (existing.has(topic)) {
      const offsets = await admin.fetchTopicOffsets(topic)
      const held = offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0)
      if (held === counts[table]) continue
      await admin.deleteTopics({ topics: [topic] })
    }
    missing.push(table)
  }
  if (missing.length > 0) {
    await admin.createTopics({
      topics: missing.map((t) => ({ topic: topicOf(prefix, t), numPartitions: 1, replicationFactor: 1 })),
      waitForLeaders: true,
    })
  }
  await admin.disconnect()
  if (missing.length === 0) {
    log(`topics ${prefix}{person,auction,bid} already hold the ${spec.events} events`)
    return prefix
  }
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  const started = performance.now()
  for (const table of missing) {
    const topic = topicOf(prefix, table)
    for (const columns of slices(spec, table)) {
      const rows = columns[0].length
      // Requests of ~0.5 MB stay under the broker's 1 MB message.max.bytes; one slice's requests
      // in flight at a time (kafkajs keeps one partition's requests in order).
      const per = table === 'bid' ? 2500 : 800
      const pending: Promise<unknown>[] = []
      for (let i = 0; i < rows; i += per) {
        const messages = []
        for (let j = i; j < Math.min(rows, i + per); j++) messages.push({ value: jsonRow(table, columns, j) })
        pending.push(producer.send({ topic, messages, acks: 1, compression: CompressionTypes.None }))
      }
      await Promise.all(pending)
    }
  }
  await producer.disconnect()
  log(
    `produced ${spec.events} events to ${prefix}{person,auction,bid} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  )
  return prefix
}

const PG_TYPES: Record<string, string> = { int8: 'bigint', text: 'text', timestamp: 'timestamp' }

/** Creates the three tables in PostgreSQL and loads the spec's events (10,000 rows per INSERT over arrays). */
export async function loadPostgres(client: Client, spec: EventSpec): Promise<void> {
  for (const table of TABLES) {
    const cols = NEXMARK_COLUMNS[table]
    await client.query(`CREATE TABLE ${table} (${cols.map((c) => `${c.name} ${PG_TYPES[c.type.kind]}`).join(', ')})`)
    const select = cols.map((c, i) => `$${i + 1}::${PG_TYPES[c.type.kind]}[]`).join(', ')
    for (const columns of slices(spec, table)) {
      const batch = columns.map((col, c) => col.map((v) => formatText(cols[c].type, v)))
      for (let at = 0; at < batch[0].length; at += 10_000) {
        const params = batch.map((col) => col.slice(at, at + 10_000))
        await client.query(`INSERT INTO ${table} SELECT * FROM unnest(${select})`, params)
      }
    }
  }
}
