/**
 * The sharded runtime's exchange building blocks on Nexmark bid chunks of 4096 rows: the chunk
 * wire format (engine/shard/wire.ts: encode, decode, bytes per row) and key-group routing
 * (engine/shard/key-group.ts: partition by auction into 2 shards). No threads: this is the
 * per-chunk cost a worker pays on each side of an exchange.
 *
 *   npx tsx bench/wire.ts [chunks = 200] [rounds = 5]
 */
import type { Chunk } from '../engine/chunk.ts'
import { emptyColumns } from '../engine/chunk.ts'
import { NEXMARK_COLUMNS, NexmarkGenerator } from '../connectors/datagen/nexmark.ts'
import { KeyRouter } from '../engine/shard/key-group.ts'
import { decodeChunk, encodeChunk } from '../engine/shard/wire.ts'

const CHUNKS = Number(process.argv[2] ?? 400)
const ROUNDS = Number(process.argv[3] ?? 5)
const ROWS = 4096
/** Distinct chunks, cycled: a bench holding all its input would time the GC marking it instead. */
const DISTINCT = 16
const types = NEXMARK_COLUMNS.bid.map((c) => c.type)

const generator = new NexmarkGenerator(42, 1_000_000, Date.UTC(2024, 0, 1) * 1000)
const chunks: Chunk[] = []
let event = 0
for (let k = 0; k < DISTINCT; k++) {
  const columns = emptyColumns(types.length)
  event = generator.fill('bid', event, Number.MAX_SAFE_INTEGER, ROWS, columns)
  chunks.push({ columns, ops: new Int8Array(ROWS).fill(1), length: ROWS })
}
const rows = CHUNKS * ROWS

function rate(ms: number): string {
  return `${(rows / ms / 1000).toFixed(2)}M rows/s`
}

const router = new KeyRouter([0], types)
for (let round = 1; round <= ROUNDS; round++) {
  // Each chunk is decoded right after it is encoded, as an exchange would, so encoded buffers do
  // not pile up; the two sides are timed apart.
  let encodeMs = 0
  let decodeMs = 0
  let partitionMs = 0
  let bytes = 0
  let decoded = 0
  let parts = 0
  for (let k = 0; k < CHUNKS; k++) {
    const chunk = chunks[k % DISTINCT]
    let t = performance.now()
    const b = encodeChunk(chunk, types)
    encodeMs += performance.now() - t
    bytes += b.length
    t = performance.now()
    decoded += decodeChunk(b, types).length
    decodeMs += performance.now() - t
    t = performance.now()
    parts += router.partition(chunk, 2).length
    partitionMs += performance.now() - t
  }
  if (decoded !== rows || parts !== 2 * CHUNKS) throw new Error('lost rows')
  console.log(
    `round ${round}: encode ${rate(encodeMs)}, decode ${rate(decodeMs)}, ${(bytes / rows).toFixed(1)} bytes/row, ` +
      `partition (auction, 2 shards) ${rate(partitionMs)}`,
  )
}
