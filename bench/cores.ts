/**
 * What this machine gives a second thread, before any engine code: the same two loops (a
 * Map-heavy one, shaped like a hash join's inserts and probes, and a pure arithmetic one) run on
 * one worker thread, then on two at once. Prints each figure and the ratio of two threads' work
 * per second to one's: the ceiling for `--workers 2` (docs/benchmarks.md, "Shards").
 *
 *   npx tsx bench/cores.ts
 */
import { Worker } from 'node:worker_threads'

const LOOP = `
const { parentPort, workerData } = require('node:worker_threads')
const t0 = performance.now()
let check = 0
if (workerData === 'map') {
  const m = new Map()
  for (let r = 0; r < 20; r++) {
    for (let i = 0; i < 200000; i++) { const k = (i * 2654435761) >>> 0; m.set(k, [k, i]) }
    for (let i = 0; i < 200000; i++) check += m.get((i * 2654435761) >>> 0)[1]
    m.clear()
  }
} else {
  let x = 0
  for (let i = 0; i < 1e9; i++) x = (x * 31 + i) | 0
  check = x
}
parentPort.postMessage({ ms: performance.now() - t0, check })
`

function run(kind: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(LOOP, { eval: true, workerData: kind })
    w.once('message', (m: { ms: number }) => {
      resolve(m.ms)
      void w.terminate()
    })
    w.once('error', reject)
  })
}

for (const kind of ['map', 'arith']) {
  const alone = await run(kind)
  const pair = await Promise.all([run(kind), run(kind)])
  const slower = Math.max(...pair)
  console.log(
    `${kind.padEnd(5)}: one thread ${(alone / 1000).toFixed(2)} s; two at once ${pair.map((ms) => (ms / 1000).toFixed(2)).join(' s, ')} s; ` +
      `two threads do ${((2 * alone) / slower).toFixed(2)}× the work of one`,
  )
}
