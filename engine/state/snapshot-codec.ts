/**
 * Encoding of operator snapshots for checkpoints: the plain data an accumulator's `snapshot()`
 * returns (numbers, strings, arrays, null, bigint, Uint8Array) plus the engine's value classes
 * (Decimal, Interval, Jsonb), which V8's structured serializer would flatten to plain objects.
 *
 * Why V8's serializer: it is native, handles bigint and typed arrays, and is compact enough for
 * small snapshots. The class instances are mapped to tagged arrays first (a string tag no
 * snapshot produces on its own as the first element), and back after decoding.
 */
import { deserialize, serialize } from 'node:v8'
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { Jsonb } from '../types/jsonb.ts'
import { corrupt } from './bytes.ts'

const DECIMAL = '\u0000dec'
const INTERVAL = '\u0000ivl'
const JSONB = '\u0000jsb'
const ARRAY = '\u0000arr'

/** Encodes snapshot data; see the module comment for what it may contain. */
export function encodeSnapshot(value: unknown): Uint8Array {
  const buf = serialize(tag(value))
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)
}

export function decodeSnapshot(bytes: Uint8Array): unknown {
  let raw: unknown
  try {
    raw = deserialize(bytes)
  } catch (e) {
    throw corrupt(`operator snapshot (${e instanceof Error ? e.message : String(e)})`)
  }
  return untag(raw)
}

function tag(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v
  if (v instanceof Decimal) return [DECIMAL, v.unscaled, v.scale]
  if (v instanceof Interval) return [INTERVAL, v.months, v.days, v.micros]
  if (v instanceof Jsonb) return [JSONB, JSON.stringify(v.value)]
  if (Array.isArray(v)) {
    let out: unknown[] | undefined
    for (let i = 0; i < v.length; i++) {
      const t = tag(v[i])
      if (t !== v[i] && out === undefined) out = v.slice(0, i)
      if (out !== undefined) out.push(t)
    }
    const arr = out ?? v
    // An array whose first element is a tag string would be misread: wrap it.
    if (arr.length > 0 && typeof arr[0] === 'string' && arr[0].startsWith('\u0000')) return [ARRAY, arr]
    return arr
  }
  return v
}

function untag(v: unknown): unknown {
  if (!Array.isArray(v)) return v
  if (v.length > 0 && typeof v[0] === 'string') {
    switch (v[0]) {
      case DECIMAL:
        return new Decimal(v[1] as bigint, v[2] as number)
      case INTERVAL:
        return new Interval(v[1] as number, v[2] as number, v[3] as number)
      case JSONB:
        return new Jsonb(JSON.parse(v[1] as string) as never)
      case ARRAY:
        return (v[1] as unknown[]).map(untag)
    }
  }
  for (let i = 0; i < v.length; i++) {
    const e: unknown = v[i]
    if (Array.isArray(e)) v[i] = untag(e)
  }
  return v
}
