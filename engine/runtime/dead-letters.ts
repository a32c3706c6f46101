/**
 * The dead-letter outlet every source, table and view has (SQL.md, "Dead letters"). Rejected
 * records are kept in a bounded in-memory ring, readable as `sluice_catalog.dead_letters`, and
 * counted by object and reason in metrics. The ring is durable through checkpoints: letters
 * received in an epoch are written with its checkpoint (key (-6, seq), the newest `capacity`
 * kept), so after a crash the letters of the replayed input are received again, not twice. A
 * `dead_letter` option on a source adds a route: to a Sluice table (below) or to a Kafka topic
 * (the Kafka connector produces there). With checkpoints on, both are committed per epoch like
 * transactional sinks (dead-letter-outlets.ts); without, they are written as they come.
 */
import type { ColumnSchema, DeadLetter, DeadLetterReason } from '../connector.ts'
import type { Value } from '../types/datatype.ts'
import type { StateStore, StateWrite } from '../state/store.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { decodeKey, encodeKey } from '../state/codec.ts'
import { T } from '../types/datatype.ts'

/** Key prefix of the checkpointed dead letters: (-6, seq). */
const DEAD_LETTER_LOG = -6n

export interface StoredDeadLetter extends DeadLetter {
  /** µs since the epoch. */
  readonly receivedAt: number
}

export type DeadLetterListener = (letter: StoredDeadLetter) => void

export class DeadLetters {
  private readonly ring: StoredDeadLetter[] = []
  private start = 0
  /** Total ever received (the ring keeps the newest `capacity`). */
  total = 0
  private readonly listeners: DeadLetterListener[] = []
  /** Received since the last checkpoint (kept only when checkpoints are on). */
  private unsaved: StoredDeadLetter[] = []
  /** Whether checkpoints take the letters (set by the engine when checkpointing). */
  checkpointed = false
  /** Sequence number of the next letter written to the store. */
  private nextSeq = 0

  constructor(
    private readonly capacity: number,
    private readonly now: () => number,
  ) {}

  add(letter: DeadLetter): void {
    const stored: StoredDeadLetter = { ...letter, receivedAt: this.now() * 1000 }
    if (this.ring.length < this.capacity) this.ring.push(stored)
    else {
      this.ring[this.start] = stored
      this.start = (this.start + 1) % this.capacity
    }
    this.total++
    if (this.checkpointed) this.unsaved.push(stored)
    for (const l of this.listeners) l(stored)
  }

  /** Checkpoint: the letters received since the last one, and a trim of those past capacity. */
  checkpointWrites(): StateWrite[] {
    const writes: StateWrite[] = []
    for (const l of this.unsaved) {
      const value = new TextEncoder().encode(
        JSON.stringify([l.object, l.reason, l.detail, l.payload, l.origin ?? null, l.receivedAt]),
      )
      writes.push({ type: 'put', key: logKey(this.nextSeq++), value })
    }
    if (this.unsaved.length > 0 && this.nextSeq > this.capacity)
      writes.push({ type: 'delRange', gte: logKey(0), lt: logKey(this.nextSeq - this.capacity) })
    this.unsaved = []
    return writes
  }

  /** Recovery: the letters of the last checkpoint, oldest first (before anything is replayed). */
  async load(store: StateStore): Promise<void> {
    for await (const [key, value] of store.scan(encodeKey([DEAD_LETTER_LOG], [T.int8]))) {
      const [object, reason, detail, payload, origin, receivedAt] = JSON.parse(new TextDecoder().decode(value)) as [
        string,
        DeadLetterReason,
        string,
        string | null,
        string | null,
        number,
      ]
      const letter: StoredDeadLetter =
        origin === null
          ? { object, reason, detail, payload, receivedAt }
          : { object, reason, detail, payload, origin, receivedAt }
      if (this.ring.length < this.capacity) this.ring.push(letter)
      else {
        this.ring[this.start] = letter
        this.start = (this.start + 1) % this.capacity
      }
      this.nextSeq = Number(decodeKey(key, [T.int8, T.int8])[1]) + 1
    }
  }

  onLetter(listener: DeadLetterListener): void {
    this.listeners.push(listener)
  }

  /** Oldest first. */
  list(): StoredDeadLetter[] {
    return [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)]
  }
}

function logKey(seq: number): Uint8Array {
  return encodeKey([DEAD_LETTER_LOG, BigInt(seq)], [T.int8, T.int8])
}

/**
 * The columns a dead-letter table may have, by name; a `dead_letter = 'table'` route fills those
 * the table has (others get NULL). The first five are required, as in `sluice_catalog.dead_letters`.
 */
const DEAD_LETTER_COLUMN_KINDS: Readonly<Record<string, readonly string[]>> = {
  object: ['text'],
  reason: ['text'],
  detail: ['text'],
  payload: ['text'],
  received_at: ['timestamptz', 'timestamp'],
  origin: ['text'],
}
const REQUIRED = ['object', 'reason', 'detail', 'payload', 'received_at']

/** Checks that `columns` (of table `table`) can receive dead letters; SluiceError otherwise. */
export function checkDeadLetterTable(
  table: string,
  columns: readonly ColumnSchema[],
  primaryKey: readonly number[] | undefined,
): void {
  const hint = `e.g. CREATE TABLE ${table} (object VARCHAR, reason VARCHAR, detail VARCHAR, payload VARCHAR, received_at TIMESTAMPTZ, origin VARCHAR) APPEND ONLY`
  for (const name of REQUIRED) {
    if (!columns.some((c) => c.name === name)) {
      throw new SluiceError(SqlState.undefined_column, `dead-letter table "${table}" has no column "${name}"`, { hint })
    }
  }
  for (const c of columns) {
    const kinds = DEAD_LETTER_COLUMN_KINDS[c.name]
    if (kinds !== undefined && !kinds.includes(c.type.kind)) {
      throw new SluiceError(
        SqlState.datatype_mismatch,
        `column "${c.name}" of dead-letter table "${table}" is ${c.type.kind}; it needs ${kinds.join(' or ')}`,
        { hint },
      )
    }
  }
  if (primaryKey !== undefined && primaryKey.length > 0) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `dead-letter table "${table}" has a primary key; dead letters are appended`,
      { hint },
    )
  }
}

/**
 * Dead letters bound for a table (`dead_letter = '<table>'`). Without checkpoints they are taken
 * in one batch after each poll (`take`) and appended at once. With checkpoints the table is an
 * outlet of the checkpoint protocol (engine/runtime/dead-letter-outlets.ts): a reader's rejects
 * wait until the driver records the position that covers their records (`settle`), then join the
 * epoch, whose letters the checkpoint logs (`preCommit`) and the outlet appends once it is durable.
 */
export class DeadLetterTableRoute {
  /** Received, not yet part of an epoch (a reader's rejects, until `settle`). */
  private pending: StoredDeadLetter[] = []
  /** The current epoch's letters (checkpoints on). */
  private epoch: StoredDeadLetter[] = []

  constructor(
    readonly table: string,
    private readonly columns: readonly ColumnSchema[],
    private readonly now: () => number,
  ) {}

  /** A letter; `settled` = it already belongs to the current epoch (a view's reject, made during a push). */
  add(letter: DeadLetter, settled = false): void {
    const stored: StoredDeadLetter = { ...letter, receivedAt: this.now() * 1000 }
    if (settled) this.epoch.push(stored)
    else this.pending.push(stored)
  }

  get size(): number {
    return this.pending.length + this.epoch.length
  }

  /** Letters not yet handed to a checkpoint. */
  get waiting(): number {
    return this.pending.length + this.epoch.length
  }

  settle(): void {
    if (this.pending.length === 0) return
    for (const l of this.pending) this.epoch.push(l)
    this.pending = []
  }

  /** The epoch's letters for the write-ahead log (JSON, as the built-in log stores them); undefined if none. */
  preCommit(): Uint8Array | undefined {
    if (this.epoch.length === 0) return undefined
    const letters = this.epoch
    this.epoch = []
    return new TextEncoder().encode(
      JSON.stringify(letters.map((l) => [l.object, l.reason, l.detail, l.payload, l.origin ?? null, l.receivedAt])),
    )
  }

  /** A logged epoch's letters as rows of the table. */
  rowsOf(logged: Uint8Array): Value[][] {
    const letters = JSON.parse(new TextDecoder().decode(logged)) as [
      string,
      DeadLetterReason,
      string,
      string | null,
      string | null,
      number,
    ][]
    return letters.map(([object, reason, detail, payload, origin, receivedAt]) =>
      this.row(
        origin === null
          ? { object, reason, detail, payload, receivedAt }
          : { object, reason, detail, payload, origin, receivedAt },
      ),
    )
  }

  /** The buffered letters as rows of the table (columns by name), and empties the buffer. */
  take(): Value[][] {
    const letters = this.epoch.length === 0 ? this.pending : this.epoch.concat(this.pending)
    this.pending = []
    this.epoch = []
    return letters.map((l) => this.row(l))
  }

  private row(l: StoredDeadLetter): Value[] {
    return this.columns.map((c): Value => {
      switch (c.name) {
        case 'object':
          return l.object
        case 'reason':
          return l.reason
        case 'detail':
          return l.detail
        case 'payload':
          return l.payload
        case 'received_at':
          return l.receivedAt
        case 'origin':
          return l.origin ?? null
        default:
          return null
      }
    })
  }
}
