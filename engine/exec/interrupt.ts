/**
 * Stopping a running statement: `statement_timeout` (PostgreSQL's setting, in ms or with a unit)
 * and a client's cancel request both end it with 57014. `check()` is what long work calls between
 * bounded steps: pull queries between cursor steps, a materialized view's backfill between
 * slices; waits (FLUSH, a turn in the query queue) race `whenInterrupted()`. A cancel request
 * arrives as a message on another connection, read only when the event loop runs, which is why
 * every such piece of work also yields between steps (docs/design/isolation.md).
 */
import { SluiceError, SqlState } from '../errors.ts'

export class StatementInterrupt {
  private cancelled = false
  private readonly listeners: ((e: SluiceError) => void)[] = []

  /** @param deadline wall-clock ms after which the statement is cancelled, or undefined */
  constructor(
    readonly deadline: number | undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** Throws 57014 when the statement was cancelled or ran past statement_timeout. */
  check(): void {
    const e = this.reason()
    if (e !== undefined) throw e
  }

  /** Milliseconds left before the timeout (undefined: no timeout). */
  remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - this.now())
  }

  cancel(): void {
    if (this.cancelled) return
    this.cancelled = true
    const e = canceled()
    for (const l of this.listeners.splice(0)) l(e)
  }

  /**
   * A promise that rejects with 57014 on cancel or at the deadline, for statements that wait;
   * `dispose` clears its timer once the statement is done.
   */
  whenInterrupted(): { promise: Promise<never>; dispose: () => void } {
    let timer: NodeJS.Timeout | undefined
    let listener: ((e: SluiceError) => void) | undefined
    const promise = new Promise<never>((_resolve, reject) => {
      listener = reject
      this.listeners.push(reject)
      const left = this.remainingMs()
      if (left !== undefined) timer = setTimeout(() => reject(timedOut()), left)
    })
    promise.catch(() => {})
    return {
      promise,
      dispose: () => {
        if (timer !== undefined) clearTimeout(timer)
        const i = listener === undefined ? -1 : this.listeners.indexOf(listener)
        if (i >= 0) this.listeners.splice(i, 1)
      },
    }
  }

  private reason(): SluiceError | undefined {
    if (this.cancelled) return canceled()
    if (this.deadline !== undefined && this.now() > this.deadline) return timedOut()
    return undefined
  }
}

function canceled(): SluiceError {
  return new SluiceError(SqlState.query_canceled, 'canceling statement due to user request')
}

function timedOut(): SluiceError {
  return new SluiceError(SqlState.query_canceled, 'canceling statement due to statement timeout')
}

const UNITS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * A statement_timeout value in ms, as PostgreSQL reads it: an integer (ms) or a number with a
 * unit (`us ms s min h d`); 0 disables the timeout. Throws 22023 for anything else.
 */
export function parseStatementTimeout(value: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)
  const unit = m?.[2] === '' ? 1 : UNITS[m?.[2].toLowerCase() ?? '']
  if (m === null || unit === undefined) {
    throw new SluiceError(
      SqlState.invalid_parameter_value,
      `invalid value for parameter "statement_timeout": "${value}"`,
      {
        hint: 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".',
      },
    )
  }
  const ms = Math.round(Number(m[1]) * unit)
  if (ms > 2_147_483_647)
    throw new SluiceError(
      SqlState.invalid_parameter_value,
      `${value} is outside the valid range for parameter "statement_timeout" (0 .. 2147483647)`,
    )
  return ms
}
