/**
 * SUBSCRIBE over the wire: the result's change stream as DataRows (`position, op, ...columns`).
 *
 * Simple query: rows go out as changes happen, flushed after each batch, with no CommandComplete
 * until the stream ends; a CancelRequest ends it with 57014 and the connection stays usable.
 * Extended query: Execute with a row limit waits for at least one change, sends what is queued up
 * to the limit and answers PortalSuspended, so cursors (pg-cursor, FETCH-like loops) page through
 * an endless result. A client that reads slower than changes arrive stops draining its socket; the
 * subscription's bounded queue then overflows and the engine cuts it off (54000).
 */
import type { ChangeBatch, ChangeSubscription, ResultColumn } from '../../engine/session-api.ts'
import type { DataType } from '../../engine/types/datatype.ts'
import type { Output } from './output.ts'
import { encodeValue } from './values.ts'
import { dataRow } from './writer.ts'

/** Rows taken from the subscription per step, so one huge snapshot does not block the loop. */
const STEP_ROWS = 1024

export interface StreamOutcome {
  /** True once the subscription has ended (CommandComplete follows); false when suspended. */
  readonly done: boolean
}

/**
 * Sends the subscription's changes. `maxRows` 0 streams until the subscription ends; otherwise
 * at most `maxRows` rows, waiting only for the first. Throws the subscription's failure.
 */
export async function streamChanges(
  out: Output,
  sub: ChangeSubscription,
  columns: readonly ResultColumn[],
  formats: readonly number[],
  maxRows: number,
  tz: string,
): Promise<StreamOutcome> {
  const types: DataType[] = columns.map((c) => c.type)
  const fmts: number[] = columns.map((_, i) => formats[i] ?? 0)
  let sent = 0
  for (;;) {
    const limit = maxRows > 0 ? Math.min(STEP_ROWS, maxRows - sent) : STEP_ROWS
    const batch = sub.poll(limit)
    if (batch === undefined) {
      if (sub.closed) return { done: true }
      if (maxRows > 0 && sent > 0) return { done: false }
      out.flush()
      await sub.ready()
      continue
    }
    sendBatch(out, batch, types, fmts, tz)
    sent += batch.chunk.length
    if (maxRows > 0 && sent >= maxRows) return { done: false }
    if (out.congested) {
      out.flush()
      await out.drained()
    }
  }
}

function sendBatch(
  out: Output,
  batch: ChangeBatch,
  types: readonly DataType[],
  fmts: readonly number[],
  tz: string,
): void {
  const { chunk } = batch
  const width = types.length
  const cells: (Buffer | null)[] = new Array<Buffer | null>(width)
  for (let i = 0; i < chunk.length; i++) {
    const position = BigInt(batch.snapshot ? batch.position : batch.position + i)
    cells[0] = encodeValue(position, types[0], fmts[0], tz)
    cells[1] = encodeValue(chunk.ops[i] > 0 ? 'insert' : 'delete', types[1], fmts[1], tz)
    for (let c = 2; c < width; c++) cells[c] = encodeValue(chunk.columns[c - 2][i] ?? null, types[c], fmts[c], tz)
    out.send(dataRow(cells))
  }
}

/** A connection's live subscriptions: the one being streamed (what a cancel ends) and the rest. */
export class ConnectionSubscriptions {
  private readonly all = new Set<ChangeSubscription>()
  private active: ChangeSubscription | undefined

  add(sub: ChangeSubscription): void {
    this.all.add(sub)
  }

  /** Streams `sub` as the connection's running statement (see streamChanges). */
  async stream(
    out: Output,
    sub: ChangeSubscription,
    columns: readonly ResultColumn[],
    formats: readonly number[],
    maxRows: number,
    tz: string,
  ): Promise<StreamOutcome> {
    this.all.add(sub)
    this.active = sub
    try {
      const outcome = await streamChanges(out, sub, columns, formats, maxRows, tz)
      if (outcome.done) this.all.delete(sub)
      return outcome
    } catch (e) {
      this.all.delete(sub)
      sub.close()
      throw e
    } finally {
      this.active = undefined
    }
  }

  /** A CancelRequest: ends the streaming subscription with 57014; false when none streams. */
  cancel(): boolean {
    if (this.active === undefined) return false
    this.active.cancel()
    return true
  }

  /** Ends every subscription (portals dropped, connection closed). */
  closeAll(): void {
    for (const s of this.all) s.close()
    this.all.clear()
  }
}
