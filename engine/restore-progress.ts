/**
 * What sessions consult while the catalog is restored in the background (engine/restore.ts):
 * which relations are not readable yet, promises for "this one is" and "everything is", and the
 * gate a statement passes before it runs. The policy (docs/operations.md "Restarts: listen first, restore after"):
 * - reads of restored objects and of the catalog run at once;
 * - a read of an object still being restored waits for it (up to statement_timeout, then 57P03);
 * - everything else (DDL, DML, FLUSH) waits for the whole restore: it could otherwise interleave
 *   with the replay, which re-creates objects under their persisted ids.
 */
import type { StoredObject } from './catalog/catalog-store.ts'
import type { StatementBody } from './sql/tree.ts'
import type { StatementInterrupt } from './exec/interrupt.ts'
import { AsyncLocalStorage } from 'node:async_hooks'
import { SluiceError, SqlState } from './errors.ts'

/**
 * Set around each replayed statement (engine/restore.ts): the replay binds views over relations
 * that are registered but not readable yet (a table whose rows still load), which a client may not
 * read. Client statements interleave with the replay at every await, so no engine field can tell
 * the two apart; the async context can.
 */
export const replayContext = new AsyncLocalStorage<true>()

/** Catalog kinds that name relations a statement can read (the others are roles, grants, ...). */
const RELATION_KINDS: ReadonlySet<string> = new Set(['source', 'table', 'materialized_view', 'view'])

/** Statements that only read, so they may run while the restore goes on. */
const READS: ReadonlySet<StatementBody['kind']> = new Set<StatementBody['kind']>([
  'query',
  'show_objects',
  'show_create',
  'show_setting',
  'set',
  'reset_all',
  'describe',
  'explain',
  'transaction',
  'noop',
  'subscribe',
])

export class RestoreProgress {
  /** Relations not readable yet, each with the promise of the moment it is. */
  private readonly waiting = new Map<string, { readonly promise: Promise<void>; readonly resolve: () => void }>()
  private resolveDone!: () => void
  /** Resolves once every object is restored and the sources run again. */
  readonly done = new Promise<void>((resolve) => (this.resolveDone = resolve))
  finished = false
  /** Set by close during the restore: the replay stops after the object it is at. */
  stopping = false
  readonly total: number

  constructor(stored: readonly StoredObject[]) {
    for (const obj of stored) {
      if (!RELATION_KINDS.has(obj.kind)) continue
      let resolve!: () => void
      const promise = new Promise<void>((r) => (resolve = r))
      this.waiting.set(obj.name, { promise, resolve })
    }
    this.total = this.waiting.size
  }

  /** Tables whose rows load later (deferLoad), by name: not started yet, or loading. */
  private readonly loads = new Map<string, (() => Promise<void>) | Promise<void>>()
  /** Background loads that failed, as "table "t": why. */
  readonly loadFailures: string[] = []

  /**
   * A table's rows load after the objects that restore from the checkpoint (they share one
   * thread: loading first would only delay the views), or as soon as something needs them
   * (loaded()). The table stays pending until its rows are in.
   */
  deferLoad(name: string, load: () => Promise<void>): void {
    this.loads.set(name, load)
  }

  /** Whether `name`'s rows are not all loaded yet. */
  isLoading(name: string): boolean {
    return this.loads.has(name)
  }

  /** Starts every deferred load and waits for all of them. */
  async loaded(): Promise<void> {
    while (this.loads.size > 0) {
      const running: Promise<void>[] = []
      for (const [name, load] of this.loads) {
        if (typeof load !== 'function') {
          running.push(load)
          continue
        }
        const started = load().then(
          () => {
            this.loads.delete(name)
            if (!this.redoPending) this.markReady(name)
          },
          (e: unknown) => {
            this.loads.delete(name)
            this.loadFailures.push(`table "${name}": ${e instanceof Error ? e.message : String(e)}`)
          },
        )
        this.loads.set(name, started)
        running.push(started)
      }
      await Promise.all(running)
    }
  }

  /** Set by the replay when tables have writes after the checkpoint (see engine/restore.ts). */
  redoPending = false

  /** Whether `name` is a relation of the catalog that is not readable yet. */
  isPending(name: string): boolean {
    return this.waiting.has(name)
  }

  /** Whether a client's read of `name` must wait (it is pending and this is not the replay). */
  blocks(name: string): boolean {
    return this.waiting.has(name) && replayContext.getStore() !== true
  }

  /** Resolves when `name` is readable (at once when it is, or when it is no pending relation). */
  whenReady(name: string): Promise<void> {
    return this.waiting.get(name)?.promise ?? Promise.resolve()
  }

  markReady(name: string): void {
    const w = this.waiting.get(name)
    if (w === undefined) return
    this.waiting.delete(name)
    w.resolve()
  }

  /** Every relation is readable (the table redo is applied; sources are about to run). */
  allReadable(): void {
    for (const name of [...this.waiting.keys()]) this.markReady(name)
  }

  /** The restore is over (done or given up on close): statements that waited for it run now. */
  finish(): void {
    this.allReadable()
    this.finished = true
    this.resolveDone()
  }

  /** 57P03 for a statement that waited past its statement_timeout for `name` (or for the restore). */
  notYet(name: string | undefined): SluiceError {
    const restored = this.total - this.waiting.size
    const what = name === undefined ? 'the catalog' : `relation "${name}"`
    return new SluiceError(
      SqlState.cannot_connect_now,
      `${what} is still being restored after a restart (${restored} of ${this.total} relations restored)`,
      {
        domain: 'external',
        retryable: true,
        hint: 'Retry in a moment, or raise statement_timeout: statements wait for the restore until it expires.',
      },
    )
  }
}

/** Whether `stmt` may run during the restore (once the relations it reads are restored). */
export function runsDuringRestore(stmt: StatementBody): boolean {
  return READS.has(stmt.kind)
}

/** The 57P03 a binder lookup throws for a pending relation; the session waits for it and retries. */
export class RestorePending extends SluiceError {
  constructor(
    readonly relation: string,
    progress: RestoreProgress,
  ) {
    const e = progress.notYet(relation)
    super(e.code, e.message, { domain: 'external', retryable: true, hint: e.hint })
  }
}

/** Errors a read may get only because the catalog is not complete yet (a grant, a relation). */
const INCOMPLETE_CATALOG: ReadonlySet<string> = new Set([
  SqlState.undefined_table,
  SqlState.undefined_object,
  SqlState.insufficient_privilege,
])

/**
 * Runs one statement of a client's session under the restore policy (see the header): `run`
 * checks privileges and executes; it is run again once what it missed is restored. A statement
 * that waits past its statement_timeout fails with 57P03; a cancel ends the wait with 57014.
 */
export async function runDuringRestore<T>(
  progress: RestoreProgress | undefined,
  stmt: StatementBody,
  interrupt: StatementInterrupt,
  run: () => Promise<T>,
): Promise<T> {
  if (progress === undefined || progress.finished) return run()
  if (!runsDuringRestore(stmt)) await waitFor(progress, progress.done, undefined, interrupt)
  for (;;) {
    try {
      return await run()
    } catch (e) {
      if (progress.finished) throw e
      if (e instanceof RestorePending) await waitFor(progress, progress.whenReady(e.relation), e.relation, interrupt)
      else if (e instanceof SluiceError && INCOMPLETE_CATALOG.has(e.code))
        await waitFor(progress, progress.done, undefined, interrupt)
      else throw e
    }
  }
}

async function waitFor(
  progress: RestoreProgress,
  ready: Promise<void>,
  name: string | undefined,
  interrupt: StatementInterrupt,
): Promise<void> {
  const interrupted = interrupt.whenInterrupted()
  try {
    await Promise.race([ready, interrupted.promise])
  } catch (e) {
    // The timeout, not a cancel: say what the statement was waiting for.
    if (interrupt.remainingMs() === 0) throw progress.notYet(name)
    throw e
  } finally {
    interrupted.dispose()
  }
}
