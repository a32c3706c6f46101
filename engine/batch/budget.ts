/**
 * Memory budgets for ad-hoc work: each pull query, INSERT ... SELECT and COPY gets a
 * `QueryBudget` (the session's `query_memory_limit`), and every budget also draws from one
 * server-wide `MemoryPool`, so that twenty queries each under their own limit still cannot add up
 * to more than the heap can hold. What needs memory (a hash table, a sort buffer, buffered result
 * rows, an INSERT's pending chunk) reserves an estimate before it grows and releases it when done;
 * a reservation over either limit fails that query alone with 53200, before the heap is exhausted.
 *
 * The numbers are estimates (bytes per row and per cell), not measurements: V8 has no cheap way to
 * size an object graph. They only have to be conservative enough that the budget plus the
 * server's own memory stays below the heap limit.
 */
import { getHeapStatistics } from 'node:v8'
import { SluiceError, SqlState } from '../errors.ts'

/** The memory every running query's budget draws from (one per server). */
export class MemoryPool {
  private usedBytes = 0

  constructor(readonly limitBytes: number) {}

  get used(): number {
    return this.usedBytes
  }

  /** Takes `bytes`; returns false (taking nothing) when the pool cannot give them. */
  take(bytes: number): boolean {
    if (this.usedBytes + bytes > this.limitBytes) return false
    this.usedBytes += bytes
    return true
  }

  give(bytes: number): void {
    this.usedBytes = Math.max(0, this.usedBytes - bytes)
  }
}

/** V8's heap limit for this process (what `--max-old-space-size` sets), in bytes. */
export function heapLimitBytes(): number {
  return getHeapStatistics().heap_size_limit
}

/** The default `query_memory_limit`: a quarter of the heap. */
export function defaultQueryMemoryLimit(): number {
  return Math.floor(heapLimitBytes() / 4)
}

/**
 * The default server-wide cap on all queries' memory together: half of the heap, so the
 * dataflows, the catalog and the protocol buffers keep the other half.
 */
export function defaultServerQueryMemory(): number {
  return Math.floor(heapLimitBytes() / 2)
}

/** The pool budgets draw from when no other is given (the process's own). */
let processPool: MemoryPool | undefined

export function serverMemoryPool(): MemoryPool {
  processPool ??= new MemoryPool(defaultServerQueryMemory())
  return processPool
}

/** Replaces the process's pool (the server's `--query-memory` flag); running budgets keep theirs. */
export function setServerQueryMemory(limitBytes: number): void {
  processPool = new MemoryPool(limitBytes)
}

/** One query's memory: at most `limitBytes`, and never more than the server-wide pool has left. */
export class QueryBudget {
  private usedBytes = 0

  constructor(
    readonly limitBytes: number,
    private readonly pool: MemoryPool = serverMemoryPool(),
  ) {}

  /** Bytes reserved and not yet released. */
  get used(): number {
    return this.usedBytes
  }

  /** Reserves `bytes` before the memory is used; throws 53200 when over the query's or the server's limit. */
  reserve(bytes: number): void {
    if (bytes <= 0) return
    if (this.usedBytes + bytes > this.limitBytes) {
      throw new SluiceError(
        SqlState.out_of_memory,
        `query needs more memory than its budget of ${formatBytes(this.limitBytes)}`,
        {
          detail: `${formatBytes(this.usedBytes)} in use, ${formatBytes(bytes)} more requested`,
          hint: 'Add a WHERE or LIMIT, aggregate less, or raise query_memory_limit (SET query_memory_limit = ...).',
        },
      )
    }
    if (!this.pool.take(bytes)) {
      throw new SluiceError(
        SqlState.out_of_memory,
        `out of query memory: running queries hold ${formatBytes(this.pool.used)} of the server's ${formatBytes(this.pool.limitBytes)}`,
        {
          retryable: true,
          hint: 'Retry when fewer heavy queries run, or raise the server-wide limit (--query-memory).',
        },
      )
    }
    this.usedBytes += bytes
  }

  /** Gives back `bytes` reserved earlier (no more than is held). */
  release(bytes: number): void {
    const n = Math.min(Math.max(0, bytes), this.usedBytes)
    this.usedBytes -= n
    this.pool.give(n)
  }

  /** Gives back everything still held: called once when the statement ends, however it ends. */
  releaseAll(): void {
    this.release(this.usedBytes)
  }
}

const UNITS: Readonly<Record<string, number>> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4 }

/**
 * A memory size setting as PostgreSQL reads one (`work_mem`): a number with a unit `B kB MB GB
 * TB` (case-insensitive); a bare number is kB. Throws 22023 for anything else.
 */
export function parseMemorySetting(name: string, value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)
  const unit = m === null ? undefined : m[2] === '' ? 1024 : UNITS[m[2].toLowerCase()]
  if (m === null || unit === undefined) {
    throw new SluiceError(SqlState.invalid_parameter_value, `invalid value for parameter "${name}": "${value}"`, {
      hint: 'Valid units for this parameter are "B", "kB", "MB", "GB", and "TB".',
    })
  }
  const bytes = Math.round(Number(m[1]) * unit)
  if (bytes < 1024)
    throw new SluiceError(
      SqlState.invalid_parameter_value,
      `${value} is outside the valid range for parameter "${name}" (at least 1kB)`,
    )
  return bytes
}

/** `268435456` → `256MB`, as SHOW prints a memory setting. */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GB', 1024 ** 3],
    ['MB', 1024 ** 2],
    ['kB', 1024],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`
  }
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)}MB` : `${bytes}B`
}
