/**
 * An exchange's watermark (exchange.ts): the minimum over the shards sending into it, leaving out
 * those whose splits are idle, and the maximum once every one of them is, as a reader combines its
 * partitions (connectors/partition-time.ts).
 */
import { MessageChannel } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import type { Watermark } from '../chunk.ts'
import { T } from '../types/datatype.ts'
import { ExchangeEdge, ShardNet } from './exchange.ts'

const channels: MessageChannel[] = []
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close()
    c.port2.close()
  }
})

/** Shard 0's end of an exchange with one other sender; the watermarks it hands on. */
function edge(): { edge: ExchangeEdge; marks: number[] } {
  const channel = new MessageChannel()
  channels.push(channel)
  const net = new ShardNet(0, 2, [undefined, channel.port1])
  const e = new ExchangeEdge(0, [0], [T.int8], net)
  const marks: number[] = []
  e.relation.stream.subscribe({
    chunk: () => {},
    watermark: (w: Watermark) => marks.push(w.value),
    failed: () => {},
  })
  return { edge: e, marks }
}

describe('an exchange watermark', () => {
  it('is the minimum over the senders', () => {
    const { edge: e, marks } = edge()
    e.watermarkFrom(0, 0, 30)
    expect(marks).toEqual([])
    e.watermarkFrom(1, 0, 10)
    expect(marks).toEqual([10])
  })

  it('leaves out an idle sender, and moves to the maximum when the last one goes idle too', () => {
    const { edge: e, marks } = edge()
    e.watermarkFrom(0, 0, 30)
    e.watermarkFrom(1, 0, 10)
    // The sender at 30 goes quiet first: the other still holds the watermark at 10.
    e.idleFrom(0)
    expect(marks).toEqual([10])
    // Then the other: nothing holds it back any more.
    e.idleFrom(1)
    expect(marks).toEqual([10, 30])
    // A sender back from idle counts again, from its next watermark; the other is still idle.
    e.watermarkFrom(1, 0, 40)
    expect(marks).toEqual([10, 30, 40])
    // Both count again: the one behind holds it.
    e.watermarkFrom(0, 0, 50)
    e.watermarkFrom(1, 0, 45)
    expect(marks).toEqual([10, 30, 40, 45])
  })
})
