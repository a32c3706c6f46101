/**
 * The `blackhole` sink: `CREATE SINK s FROM v WITH (connector = 'blackhole')` runs a dataflow to
 * its end and throws the output away, as Flink's blackhole connector does. For benchmarks (the
 * cost of a query without the cost of an external system) and for dry runs of a pipeline before
 * its real sink exists. It takes part in checkpoints like any sink: an epoch that produced rows
 * is "committed" at once, so `sluice_catalog.sinks.committed_epoch` shows the dataflow advancing.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type { ConnectorOptions, SinkFactory, SinkSpec, SinkWriter } from '../../engine/connector.ts'
import { SluiceError, SqlState } from '../../engine/errors.ts'

const EMPTY = new Uint8Array(0)

export class BlackholeWriter implements SinkWriter {
  /** Rows written (inserts and deletes) since the sink was created in this process. */
  rows = 0
  private epochRows = 0
  private committed = 0

  open(): Promise<void> {
    return Promise.resolve()
  }

  write(chunk: Chunk): void {
    this.epochRows += chunk.length
  }

  preCommit(_epoch: number): Uint8Array | undefined {
    if (this.epochRows === 0) return undefined
    this.rows += this.epochRows
    this.epochRows = 0
    return EMPTY
  }

  commit(epoch: number, _logged: Uint8Array | undefined): Promise<void> {
    if (epoch > this.committed) this.committed = epoch
    return Promise.resolve()
  }

  committedEpoch(): Promise<number> {
    return Promise.resolve(this.committed)
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

export const blackholeSinkFactory: SinkFactory = {
  connector: 'blackhole',
  create(_spec: SinkSpec, options: ConnectorOptions): SinkWriter {
    for (const key of options.keys()) {
      if (key !== 'connector')
        throw new SluiceError(SqlState.invalid_parameter_value, `unknown option "${key}" for connector blackhole`, {
          hint: 'connector blackhole takes no options',
        })
    }
    return new BlackholeWriter()
  },
}
