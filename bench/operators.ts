/**
 * Operator throughput on one core, fed from in-memory chunks (no I/O): filter + project,
 * tumbling-window aggregation, hash join and top-N. Chunks of synthetic bids are built one at a
 * time, outside the timed section, and pushed through the same operator graph a view uses; only
 * the push is timed. Prints rows/s per operator and the process RSS. Run: `npx tsx bench/operators.ts [rows] [operator name filter]`.
 */
import type { Chunk } from '../engine/chunk.ts'
import type { PhysicalNode, RelationInput } from '../engine/runtime/dataflow.ts'
import type { LogicalPlan } from '../engine/plan/logical.ts'
import { Dataflow } from '../engine/runtime/dataflow.ts'
import { Stream } from '../engine/runtime/stream.ts'
import { Binder } from '../engine/plan/binder.ts'
import { lower } from '../engine/plan/physical.ts'
import { optimize } from '../engine/plan/optimize.ts'
import { parseSql } from '../engine/sql/front-door.ts'
import { T, type DataType, type Value } from '../engine/types/datatype.ts'

const ROWS = Number(process.argv[2] ?? 2_000_000)
const CHUNK = 1024

interface Table {
  readonly name: string
  readonly columns: { name: string; type: DataType }[]
  /** Resident chunks (small tables), or none when `rows` are generated chunk by chunk. */
  readonly chunks: Chunk[]
  readonly rows?: number
  readonly stream: Stream
}

/** Bid chunk number `c` (rows c*CHUNK ...), built on demand so the input is not all resident. */
function bidChunk(c: number, rows: number): Chunk {
  const base = Date.UTC(2024, 0, 1) * 1000
  const start = c * CHUNK
  const n = Math.min(CHUNK, rows - start)
  const auction: Value[] = new Array(n)
  const price: Value[] = new Array(n)
  const bidder: Value[] = new Array(n)
  const ts: Value[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const r = start + i
    auction[i] = BigInt(1000 + ((r * 7919) % 1000))
    price[i] = BigInt(100 + ((r * 104729) % 100000))
    bidder[i] = BigInt(r % 5000)
    ts[i] = base + r * 1000 // 1000 events per second of event time
  }
  return { columns: [auction, bidder, price, ts], ops: new Int8Array(n).fill(1), length: n }
}

function bids(rows: number): Table {
  return {
    name: 'bid',
    columns: [
      { name: 'auction', type: T.int8 },
      { name: 'bidder', type: T.int8 },
      { name: 'price', type: T.int8 },
      { name: 'date_time', type: T.timestamp },
    ],
    chunks: [],
    rows,
    stream: new Stream('bid'),
  }
}

function auctions(count: number): Table {
  const id: Value[] = []
  const category: Value[] = []
  for (let a = 0; a < count; a++) {
    id.push(BigInt(1000 + a))
    category.push(BigInt(10 + (a % 5)))
  }
  return {
    name: 'auction',
    columns: [
      { name: 'id', type: T.int8 },
      { name: 'category', type: T.int8 },
    ],
    chunks: [{ columns: [id, category], ops: new Int8Array(count).fill(1), length: count }],
    stream: new Stream('auction'),
  }
}

async function plan(sql: string, tables: Table[]): Promise<LogicalPlan> {
  const [stmt] = await parseSql(sql)
  if (stmt.kind !== 'query') throw new Error('expected a query')
  const binder = new Binder({
    catalog: {
      relation(_schema, name) {
        const t = tables.find((x) => x.name === name)
        if (t === undefined) throw new Error(`no table ${name}`)
        const input: RelationInput = {
          name,
          stream: t.stream,
          snapshot: () => ({ columns: t.columns.map(() => []), ops: new Int8Array(0), length: 0 }),
        }
        return {
          kind: 'relation',
          ref: { kind: 'source', name, input, watermarkDelays: new Map([[3, 0]]), appendOnly: true },
          columns: t.columns,
        }
      },
    },
    compile: { params: [], timezone: 'UTC', now: 0 },
    paramTypes: [],
    allowSources: true,
  })
  return optimize(binder.bindQuery(stmt.query).plan)
}

const ONLY = process.argv[3]

/** Runs `rows` bid rows through a fresh dataflow for `sql`; returns seconds spent pushing and rows out. */
async function run(
  sql: string,
  feed: Table,
  others: Table[],
  rows: number,
  label: string,
): Promise<{ seconds: number; out: number }> {
  const logical = await plan(sql, [feed, ...others])
  const ops = { owner: label, deadLetter: () => {}, countLate: () => {}, countEvalErrors: () => {} }
  const physical: PhysicalNode = lower(logical, {
    compile: { params: [], timezone: 'UTC', now: 0 },
    ops,
    watermarkOverride: undefined,
    emitOnWindowClose: false,
  })
  let out = 0
  // Each run starts from a fresh event-time high mark (the streams are reused).
  for (const t of [feed, ...others]) t.stream.maxEventTime.clear()
  const flow = new Dataflow(physical, { chunk: (c) => (out += c.length), watermark: () => {} })
  flow.attach()
  for (const o of others) for (const c of o.chunks) o.stream.push(c)
  // Only pushing a chunk through the operators is timed; building the next chunk is not.
  let elapsed = 0n
  const chunks = Math.ceil(rows / CHUNK)
  for (let c = 0; c < chunks; c++) {
    const chunk = bidChunk(c, rows)
    const t0 = process.hrtime.bigint()
    feed.stream.push(chunk)
    feed.stream.pushBatchWatermarks(chunk, [3])
    elapsed += process.hrtime.bigint() - t0
  }
  flow.detach()
  return { seconds: Number(elapsed) / 1e9, out }
}

async function measure(label: string, sql: string, feed: Table, others: Table[] = []): Promise<void> {
  if (ONLY !== undefined && !label.includes(ONLY)) return
  // Warm-up on a separate dataflow so the JIT has settled before the timed run.
  await run(sql, feed, others, Math.min(ROWS, 200_000), label)
  const { seconds, out } = await run(sql, feed, others, ROWS, label)
  const rate = ROWS / seconds
  console.log(
    `${label.padEnd(28)} ${(rate / 1e6).toFixed(2).padStart(6)} M rows/s   (${ROWS} rows in ${seconds.toFixed(2)} s, ${out} rows out)`,
  )
}

const feed = bids(ROWS)
console.log(`Sluice operators, one core, ${ROWS} input rows in chunks of ${CHUNK} (node ${process.version})`)
await measure('filter + project', 'SELECT auction, price * 2 AS p2, bidder FROM bid WHERE price > 50000', feed)
await measure(
  'tumbling aggregation (1 s)',
  "SELECT auction, count(*) AS n, max(price) AS top FROM bid GROUP BY TUMBLE(date_time, '1s'), auction",
  feed,
)
await measure(
  'hash join (1000 auctions)',
  'SELECT b.price, a.category FROM bid b JOIN auction a ON b.auction = a.id',
  feed,
  [auctions(1000)],
)
await measure(
  'top-3 per auction',
  'SELECT auction, price FROM (SELECT auction, price, ROW_NUMBER() OVER (PARTITION BY auction ORDER BY price DESC) AS rn FROM bid) s WHERE rn <= 3',
  feed,
)
console.log(`RSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`)
