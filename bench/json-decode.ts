/**
 * The JSON decoder alone on Nexmark bid records, as the Kafka source calls it (decodeBytes over
 * records side by side in one buffer), against JSON.parse of the same bytes as a yardstick. No
 * broker and no engine: this is the decode share of bench/kafka-consume.ts --nexmark, in ns per
 * record. The records are the bid topic's (bench/nexmark/events.ts writes them the same way).
 *
 *   npx tsx bench/json-decode.ts [events = 1000000] [rounds = 5] [--module path]
 *
 * `--module` takes createJsonDecoder from another file instead (e.g. an older copy of json.ts),
 * to compare two versions on the same records in the same process.
 */
import type { Column } from '../engine/chunk.ts'
import { NEXMARK_COLUMNS } from '../connectors/datagen/nexmark.ts'
import { createJsonDecoder as current } from '../connectors/formats/json.ts'
import { formatText } from '../engine/types/text.ts'
import { slices } from './nexmark/events.ts'
import { resolve } from 'node:path'

const args = process.argv.slice(2)
const at = args.indexOf('--module')
const other = at < 0 ? undefined : args.splice(at, 2)[1]
const createJsonDecoder =
  other === undefined
    ? current
    : ((await import(resolve(other))) as { createJsonDecoder: typeof current }).createJsonDecoder
const events = Number(args[0] ?? 1_000_000)
const rounds = Number(args[1] ?? 5)
const cols = NEXMARK_COLUMNS.bid

const parts: Buffer[] = []
for (const columns of slices({ events, rate: 1000, seed: 42, baseTime: '2024-01-01T00:00:00Z' }, 'bid')) {
  for (let i = 0; i < columns[0].length; i++) {
    let out = '{'
    for (let c = 0; c < cols.length; c++) {
      const v = columns[c][i]
      const text = cols[c].type.kind === 'int8' ? String(v) : JSON.stringify(formatText(cols[c].type, v))
      out += `${c === 0 ? '' : ','}"${cols[c].name}":${text}`
    }
    parts.push(Buffer.from(out + '}'))
  }
}
const n = parts.length
const starts = new Int32Array(n)
const ends = new Int32Array(n)
let offset = 0
for (let i = 0; i < n; i++) {
  starts[i] = offset
  offset += parts[i].length
  ends[i] = offset
}
const all = Buffer.concat(parts)
parts.length = 0
console.log(`${n} bid records, ${(all.length / n).toFixed(0)} bytes each on average`)

const CHUNK = 8192
function decodeAll(): number {
  const decoder = createJsonDecoder(cols)
  let failed = 0
  for (let from = 0; from < n; from += CHUNK) {
    // A fresh chunk of columns per CHUNK records, as the source hands chunks to the engine.
    const out: Column[] = cols.map(() => [])
    const to = Math.min(n, from + CHUNK)
    for (let i = from; i < to; i++) if (decoder.decodeBytes(all, starts[i], ends[i], out) !== undefined) failed++
  }
  return failed
}

function parseAll(): number {
  let keys = 0
  for (let i = 0; i < n; i++) keys += Object.keys(JSON.parse(all.toString('utf8', starts[i], ends[i])) as object).length
  return keys
}

/** CPU ns per record of `f` (all threads: concurrent GC included), less sensitive to a busy machine than wall time. */
function cpuNs<T>(f: () => T): [number, T] {
  const t = process.cpuUsage()
  const out = f()
  const u = process.cpuUsage(t)
  return [((u.user + u.system) * 1000) / n, out]
}

for (let r = 0; r < rounds; r++) {
  const [decode, failed] = cpuNs(decodeAll)
  const [parse] = cpuNs(parseAll)
  console.log(
    `round ${r + 1}: decodeBytes ${decode.toFixed(0)} CPU ns/record (${(1e9 / decode / 1000).toFixed(0)}k/s)${failed > 0 ? ` ${failed} FAILED` : ''}, JSON.parse ${parse.toFixed(0)} CPU ns/record`,
  )
}
