/**
 * PostgreSQL's grammar, run off the main thread for the statements that would hold it up.
 *
 * libpg-query parses synchronously inside WASM, on the thread that calls it. For everyday
 * statements that is a few microseconds and stays inline (pg-parse.ts). Two kinds do not:
 *
 * - Long statements: the parse takes time in proportion to the text (about 0.6 s per MB, and the
 *   JSON tree it returns is 15 times the text), and every session and dataflow shares the main
 *   thread. Statements over `INLINE_PARSE_BYTES` are parsed here.
 * - Deep ones: the grammar builds `a + b + c + ...` as a left-deep tree and libpg-query's JSON
 *   output recurses once per level on the calling thread's stack. On the main thread (about 1 MB
 *   of stack) that fails near 3,000 terms with a RangeError; this thread has `STACK_MB` of stack,
 *   enough for well over 20,000. A RangeError here too means the statement is too complex (54001).
 *
 * One thread serves every session, one statement at a time; it is started on first use and does
 * not keep the process alive.
 */
import { Worker } from 'node:worker_threads'
import { SluiceError, SqlState } from '../errors.ts'

/** Statements longer than this (UTF-16 units) are parsed on the worker thread. */
export const INLINE_PARSE_BYTES = 64 * 1024
const STACK_MB = 64

export interface ParseRequest {
  readonly id: number
  readonly text: string
}

export type ParseReply =
  | { readonly id: number; readonly json: string; readonly error?: undefined }
  | {
      readonly id: number
      readonly json?: undefined
      readonly error: {
        readonly message: string
        readonly cursorPosition: number | undefined
        readonly tooDeep: boolean
      }
    }

interface Pending {
  readonly resolve: (json: string) => void
  readonly reject: (e: unknown) => void
}

let thread: Worker | undefined
let ready: Promise<void> | undefined
let nextId = 1
const pending = new Map<number, Pending>()

function start(): { worker: Worker; ready: Promise<void> } {
  const worker = new Worker(new URL('./parse-worker-boot.mjs', import.meta.url), {
    // From dist/ (the compiled build) this module is .js and so is the worker's entry.
    workerData: {
      entry: new URL(`./parse-worker.${import.meta.url.endsWith('.js') ? 'js' : 'ts'}`, import.meta.url).href,
    },
    resourceLimits: { stackSizeMb: STACK_MB },
    stdout: false,
    stderr: false,
  })
  worker.unref()
  const booted = new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve())
    worker.once('error', reject)
  })
  booted.catch(() => {})
  worker.on('message', (m: ParseReply) => {
    const p = pending.get(m.id)
    if (p === undefined) return
    pending.delete(m.id)
    if (pending.size === 0) worker.unref()
    if (m.error === undefined) p.resolve(m.json)
    else p.reject(parseError(m.error))
  })
  const fail = (e: unknown): void => {
    if (thread === worker) thread = undefined
    for (const p of pending.values())
      p.reject(
        new SluiceError(
          SqlState.statement_too_complex,
          `the parser thread stopped: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        ),
      )
    pending.clear()
  }
  worker.on('error', fail)
  worker.on('exit', (code) => fail(new Error(`exit code ${code}`)))
  return { worker, ready: booted }
}

/** Parses `text` on the parser thread; resolves with libpg-query's tree, as `parseSync` returns it. */
export async function parseOnThread(text: string): Promise<unknown> {
  if (thread === undefined) {
    const s = start()
    thread = s.worker
    ready = s.ready
  }
  const worker = thread
  await ready
  const id = nextId++
  const json = await new Promise<string>((resolve, reject) => {
    pending.set(id, { resolve, reject })
    worker.ref()
    worker.postMessage({ id, text } satisfies ParseRequest)
  })
  return JSON.parse(json) as unknown
}

/** The thread's error as the inline parse would report it (position relative to `text`). */
export class ThreadParseError extends Error {
  constructor(
    message: string,
    readonly sqlDetails: { readonly message: string; readonly cursorPosition: number | undefined },
    readonly tooDeep: boolean,
  ) {
    super(message)
  }
}

function parseError(e: { message: string; cursorPosition: number | undefined; tooDeep: boolean }): ThreadParseError {
  return new ThreadParseError(e.message, { message: e.message, cursorPosition: e.cursorPosition }, e.tooDeep)
}
