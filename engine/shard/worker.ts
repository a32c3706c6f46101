/**
 * Entry of a shard thread (pool.ts): it warms the parser, says so, then hosts every shard the
 * main thread places on it (shard.ts), one per `{ t: 'shard' }` message, each answering on its
 * own port. A shard that throws fails alone: it reports `failed` on its port and takes no more
 * messages, and the thread's other shards run on.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import type { FromShard, PeerMessage, ShardInit, ToShard } from './protocol.ts'
import type { ThreadData, ToThread } from './pool.ts'
import { parseSql } from '../sql/front-door.ts'
import { Shard } from './shard.ts'

const main = parentPort
if (main === null) throw new Error('the shard entry runs on a worker thread')
const data = workerData as ThreadData
try {
  // The parser's WASM loads at the first parse: once per thread, before any shard waits on it.
  await parseSql('SELECT 1')
} catch {
  // A shard's own parse reports it.
}
main.on('message', (m: ToThread) => {
  if (m.t === 'shard') void host(m.init, m.port)
})
data.warm.postMessage({ t: 'warm' })
data.warm.close()

function failed(e: unknown): FromShard {
  return {
    t: 'failed',
    message: e instanceof Error ? e.message : String(e),
    stack: e instanceof Error ? e.stack : undefined,
  }
}

/**
 * Runs one shard until the main thread closes its port (after `stopped`, or when the view's
 * shards are given up). Messages that arrive while the shard plans its view wait on the ports.
 */
async function host(init: ShardInit, port: MessagePort): Promise<void> {
  const close = (): void => {
    for (const p of init.peers) p?.close()
  }
  port.once('close', close)
  let shard: Shard
  try {
    shard = await Shard.start(init, port)
  } catch (e) {
    port.postMessage(failed(e))
    port.on('message', (m: ToShard) => {
      if (m.t === 'stop') port.postMessage({ t: 'stopped' } satisfies FromShard)
    })
    return
  }
  let broken = false
  const guard = (handle: () => void): void => {
    if (broken) return
    try {
      handle()
    } catch (e) {
      broken = true
      port.postMessage(failed(e))
    }
  }
  init.peers.forEach((p, from) => p?.on('message', (m: PeerMessage) => guard(() => shard.fromPeer(from, m))))
  port.on('message', (m: ToShard) => {
    if (m.t !== 'stop' || !broken) return guard(() => shard.fromMain(m))
    // A broken shard still stops its readers, if it can.
    try {
      shard.fromMain(m)
    } catch {
      port.postMessage({ t: 'stopped' } satisfies FromShard)
    }
  })
  port.postMessage({ t: 'ready' } satisfies FromShard)
}
