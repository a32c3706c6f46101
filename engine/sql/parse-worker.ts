/**
 * The parser's worker thread: runs PostgreSQL's grammar (libpg-query) over one statement at a
 * time and answers with the parse tree as JSON text. It exists for the statements the main thread
 * should not parse itself (parse-thread.ts says which), and it has a stack large enough for the
 * deeply nested trees that long operator chains produce.
 */
import { parentPort } from 'node:worker_threads'
import { loadModule, parseSync } from 'libpg-query'
import type { ParseReply, ParseRequest } from './parse-thread.ts'

await loadModule()
const port = parentPort
if (port === null) throw new Error('parse-worker.ts runs only as a worker thread')

port.on('message', (m: ParseRequest) => {
  let reply: ParseReply
  try {
    // Stringified here, parsed on the main thread: V8's JSON.parse needs no deep recursion, while
    // the structured clone of a deep object tree would.
    reply = { id: m.id, json: JSON.stringify(parseSync(m.text)) }
  } catch (e) {
    const details = (e as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails
    reply = {
      id: m.id,
      error: {
        message: details?.message ?? (e instanceof Error ? e.message : String(e)),
        cursorPosition: details?.cursorPosition,
        tooDeep: e instanceof RangeError,
      },
    }
  }
  port.postMessage(reply)
})
port.postMessage({ id: 0, json: 'ready' } satisfies ParseReply)
