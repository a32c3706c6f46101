/**
 * The worker thread that runs a Kafka source's fetcher (./fetcher.ts): batches go to the reader
 * with their buffers transferred, everything else as plain messages; the reader's credits and
 * the request to close come back. Started by ./fetch-thread.ts through ./fetch-worker-boot.mjs.
 */
import { parentPort } from 'node:worker_threads'
import { transferables } from './fetched.ts'
import { KafkaFetcher, type FetcherEvent } from './fetcher.ts'
import type { ToFetcher } from './fetch-thread.ts'

const port = parentPort
if (port === null) throw new Error('fetch-worker.ts runs only as a worker thread')

function post(event: FetcherEvent): void {
  if (port === null) return
  if (event.kind === 'batch') port.postMessage(event, transferables(event.batch))
  else if (event.kind !== 'log') port.postMessage(event)
  else {
    try {
      port.postMessage(event)
    } catch {
      // A log field that cannot be cloned (kafkajs passes what it has): the message without them.
      port.postMessage({ ...event, fields: undefined })
    }
  }
}

// Node's warnings in this thread (kafkajs's negative timeouts, say) would print raw to the
// process's stderr; they go to the server's log with everything else instead.
process.removeAllListeners('warning')
process.on('warning', (w) => {
  const { code } = w as { code?: unknown }
  post({
    kind: 'log',
    level: 'warn',
    message: `node ${w.name}: ${w.message}`,
    fields: code === undefined ? undefined : { code },
  })
})

// Booted ahead of need: the fetcher is built when its reader sends the options ('init'), and
// starts when the reader knows where ('start').
let fetcher: KafkaFetcher | undefined
port.on('message', (m: ToFetcher) => {
  switch (m.kind) {
    case 'init':
      fetcher ??= new KafkaFetcher(m.options, post)
      return
    case 'start':
      fetcher?.start(m.from)
      return
    case 'credit':
      fetcher?.credit(m.records, m.bytes, m.buffers)
      return
    case 'close':
      void (fetcher?.close() ?? Promise.resolve()).then(() => {
        port.postMessage({ kind: 'closed' })
        port.close()
      })
  }
})
