/**
 * A SUBSCRIBE snapshot read from disk (a view whose rows are in its aggregate's state table): the
 * scan is opened when the subscription starts, at its position, and read one piece ahead as the
 * subscriber takes the pieces, so a large snapshot is never held whole.
 */
import type { Chunk } from '../chunk.ts'
import { sliceChunk } from '../batch/cursor.ts'
import { SluiceError, SqlState } from '../errors.ts'

/** What a subscriber is told when its snapshot could not be read. */
export function snapshotFailure(error: unknown, relation: string): SluiceError {
  if (error instanceof SluiceError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new SluiceError(SqlState.internal_error, `reading the snapshot of "${relation}" failed: ${message}`, {
    domain: 'internal',
  })
}

export class SnapshotScan {
  private piece: Chunk | undefined
  private reading = false
  /** Read to its end, stopped, or failed. */
  done = false

  constructor(
    private readonly scan: AsyncIterator<Chunk>,
    /** A piece arrived or the scan ended (`done`). */
    private readonly changed: () => void,
    /** The read failed (the scan is over). */
    private readonly failed: (error: unknown) => void,
  ) {
    this.read()
  }

  /** Whether a piece is ready to take. */
  get ready(): boolean {
    return this.piece !== undefined
  }

  /** Rows of the ready piece. */
  get readyRows(): number {
    return this.piece?.length ?? 0
  }

  /** At most `maxRows` rows of the ready piece (the next read starts once it is taken), or undefined while reading. */
  take(maxRows: number): Chunk | undefined {
    const piece = this.piece
    if (piece === undefined) {
      this.read()
      return undefined
    }
    if (piece.length <= maxRows) {
      this.piece = undefined
      this.read()
      return piece
    }
    const n = Math.max(1, Math.floor(maxRows))
    this.piece = sliceChunk(piece, n, piece.length)
    return sliceChunk(piece, 0, n)
  }

  /** Stops reading (the subscription ended): the scan releases what it holds. */
  stop(): void {
    if (this.done) return
    this.done = true
    this.piece = undefined
    this.scan.return?.().catch(() => {})
  }

  private read(): void {
    if (this.done || this.reading || this.piece !== undefined) return
    this.reading = true
    this.scan.next().then(
      (r) => {
        this.reading = false
        if (this.done) return
        if (r.done === true) this.done = true
        else if (r.value.length > 0) this.piece = r.value
        else return this.read()
        this.changed()
      },
      (e: unknown) => {
        this.reading = false
        if (this.done) return
        this.done = true
        this.failed(e)
      },
    )
  }
}
