/**
 * Entry of a shard's worker thread (shard.ts): the shard is built from workerData, then every
 * message from the main thread and from the other shards is handed to it.
 */
import { parentPort, workerData } from 'node:worker_threads'
import type { PeerMessage, ShardInit, ToShard } from './protocol.ts'
import { Shard } from './shard.ts'

const init = workerData as ShardInit
const main = parentPort
if (main === null) throw new Error('the shard entry runs on a worker thread')
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
