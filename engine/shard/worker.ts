/**
 * Entry of a shard's worker thread (shard.ts): the shard is built from its ShardInit, then every
 * message from the main thread and from the other shards is handed to it. The ShardInit is the
 * workerData, or, for a thread booted ahead of need (pool.ts), the first message from the main
 * thread, once the thread has warmed the parser.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import type { PeerMessage, ShardInit, ToShard } from './protocol.ts'
import type { PooledData, ToPooled } from './pool.ts'
import { parseSql } from '../sql/front-door.ts'
import { Shard } from './shard.ts'

const main = parentPort
if (main === null) throw new Error('the shard entry runs on a worker thread')
const data = workerData as ShardInit | PooledData
const init = 'pooled' in data && data.pooled ? await pooledInit(main, data) : (data as ShardInit)
try {
  const shard = await Shard.start(init, main)
  init.peers.forEach((port, from) => port?.on('message', (m: PeerMessage) => shard.fromPeer(from, m)))
  main.on('message', (m: ToShard) => shard.fromMain(m))
  main.postMessage({ t: 'ready' })
} catch (e) {
  main.postMessage({
    t: 'failed',
    message: e instanceof Error ? e.message : String(e),
    stack: e instanceof Error ? e.stack : undefined,
  })
}

/**
 * Warms the parser (its WASM loads at the first parse), says so, and waits for the init. The
 * listener keeps the thread alive while it waits; once it is removed the port holds later
 * messages until the shard's own listener is on, as for a thread given its init as workerData.
 */
async function pooledInit(port: MessagePort, pooled: PooledData): Promise<ShardInit> {
  try {
    await parseSql('SELECT 1')
  } catch {
    // The shard's own parse reports it.
  }
  pooled.warm.postMessage({ t: 'pooled' })
  pooled.warm.close()
  const m = await new Promise<ToPooled>((resolve) => port.once('message', resolve))
  if (m.t !== 'init') throw new Error(`a pooled shard thread got '${String(m.t)}' before its init`)
  return m.init
}
