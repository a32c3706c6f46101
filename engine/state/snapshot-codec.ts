/**
 * Encoding of operator snapshots for checkpoints: the plain data an accumulator's `snapshot()`
 * and the operators' checkpoint entries hold (numbers, strings, booleans, null, bigint,
 * Uint8Array, nested arrays) plus the engine's value classes (Decimal, Interval, Jsonb).
 *
 * Why a tagged binary format: a checkpoint encodes one entry per changed page of groups, join row
 * or partition, so the per-call cost is what counts, and recovery decodes every entry. JSON needed
 * a pass mapping bigints and the value classes to tagged strings first and `BigInt(text)` per
 * value back; here each value is one tag byte and its bytes (int64 for bigints in range), written
 * into one reused buffer. On the high-churn checkpoint benchmark this halved the encoding time.
 */
import { Decimal } from '../types/decimal.ts'
import { Interval } from '../types/interval.ts'
import { Jsonb, type JsonValue } from '../types/jsonb.ts'
import { ByteReader, ByteWriter, corrupt } from './bytes.ts'
import { SluiceError } from '../errors.ts'

const NULL = 0
const FALSE = 1
const TRUE = 2
const INT32 = 3
const FLOAT64 = 4
const INT64 = 5
const BIGINT_TEXT = 6
const STRING = 7
const ARRAY = 8
const BYTES = 9
const DECIMAL = 10
const INTERVAL = 11
const JSONB = 12

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

const w = new ByteWriter()

/** Encodes snapshot data; see the module comment for what it may contain. */
export function encodeSnapshot(value: unknown): Uint8Array {
  w.reset()
  write(value)
  return w.finish()
}

export function decodeSnapshot(bytes: Uint8Array): unknown {
  const r = new ByteReader(bytes, 'operator snapshot')
  try {
    const value = read(r)
    if (r.p !== bytes.length) throw new Error(`${bytes.length - r.p} trailing bytes`)
    return value
  } catch (e) {
    if (e instanceof SluiceError) throw e
    throw corrupt(`operator snapshot (${e instanceof Error ? e.message : String(e)})`)
  }
}

/**
 * Reads snapshot data piece by piece, without building the arrays that hold it: recovery of an
 * aggregate reads a million groups' accumulator snapshots straight into its columns (about three
 * arrays a group fewer for the garbage collector). Errors are those of decodeSnapshot.
 */
export class SnapshotReader {
  private readonly r: ByteReader

  constructor(private readonly bytes: Uint8Array) {
    this.r = new ByteReader(bytes, 'operator snapshot')
  }

  /**
   * Enters an array (of `length` elements, when given): its length; its elements are the next
   * values read.
   */
  array(length?: number): number {
    const r = this.r
    if (r.p >= r.b.length || r.b[r.p] !== ARRAY) throw this.corrupt('expected an array')
    r.p++
    const n = r.varuint()
    if (n > r.b.length - r.p || (length !== undefined && n !== length)) throw this.corrupt('bad array length')
    return n
  }

  /** The next value, whatever it is (arrays built whole). */
  value(): unknown {
    try {
      return read(this.r)
    } catch (e) {
      if (e instanceof SluiceError) throw e
      throw this.corrupt(e instanceof Error ? e.message : String(e))
    }
  }

  /** The next value, which must be a number. */
  number(): number {
    const r = this.r
    const tag = r.b[r.p]
    if (tag === INT32 && r.p + 5 <= r.b.length) {
      const v = r.v.getInt32(r.p + 1, true)
      r.p += 5
      return v
    }
    if (tag === FLOAT64 && r.p + 9 <= r.b.length) {
      const v = r.v.getFloat64(r.p + 1, true)
      r.p += 9
      return v
    }
    throw this.corrupt(`expected a number, found tag ${tag}`)
  }

  /** Throws unless every byte was read. */
  end(): void {
    if (this.r.p !== this.bytes.length) throw this.corrupt(`${this.bytes.length - this.r.p} trailing bytes`)
  }

  private corrupt(why: string): SluiceError {
    return corrupt(`operator snapshot (${why})`)
  }
}

function write(v: unknown): void {
  switch (typeof v) {
    case 'number':
      if ((v | 0) === v && !Object.is(v, -0)) {
        w.ensure(5)
        w.buf[w.pos++] = INT32
        w.view.setInt32(w.pos, v, true)
        w.pos += 4
      } else {
        w.ensure(9)
        w.buf[w.pos++] = FLOAT64
        w.view.setFloat64(w.pos, v, true)
        w.pos += 8
      }
      return
    case 'string':
      w.byte(STRING)
      w.string(v)
      return
    case 'boolean':
      w.byte(v ? TRUE : FALSE)
      return
    case 'bigint':
      writeBigint(v)
      return
    case 'object':
      break
    default:
      // undefined (and anything else JSON would have turned into null).
      w.byte(NULL)
      return
  }
  if (v === null) {
    w.byte(NULL)
  } else if (Array.isArray(v)) {
    w.byte(ARRAY)
    w.varuint(v.length)
    for (let i = 0; i < v.length; i++) write(v[i])
  } else if (v instanceof Uint8Array) {
    w.byte(BYTES)
    w.varuint(v.length)
    w.bytes(v)
  } else if (v instanceof Decimal) {
    w.byte(DECIMAL)
    w.varuint(v.scale)
    writeBigint(v.unscaled)
  } else if (v instanceof Interval) {
    w.ensure(17)
    w.buf[w.pos++] = INTERVAL
    w.view.setInt32(w.pos, v.months, true)
    w.view.setInt32(w.pos + 4, v.days, true)
    w.view.setFloat64(w.pos + 8, v.micros, true)
    w.pos += 16
  } else if (v instanceof Jsonb) {
    w.byte(JSONB)
    w.string(JSON.stringify(v.value))
  } else {
    throw new Error(`cannot checkpoint a value of type ${Object.prototype.toString.call(v)}`)
  }
}

function writeBigint(v: bigint): void {
  if (v >= INT64_MIN && v <= INT64_MAX) {
    w.ensure(9)
    w.buf[w.pos++] = INT64
    w.view.setBigInt64(w.pos, v, true)
    w.pos += 8
  } else {
    w.byte(BIGINT_TEXT)
    w.string(v.toString())
  }
}

function read(r: ByteReader): unknown {
  if (r.p >= r.b.length) throw new Error('truncated')
  const tag = r.b[r.p++]
  switch (tag) {
    case NULL:
      return null
    case FALSE:
      return false
    case TRUE:
      return true
    case INT32: {
      const v = r.v.getInt32(r.p, true)
      r.p += 4
      return v
    }
    case FLOAT64: {
      const v = r.v.getFloat64(r.p, true)
      r.p += 8
      return v
    }
    case INT64:
    case BIGINT_TEXT:
      r.p--
      return readBigint(r)
    case STRING:
      return r.string()
    case ARRAY: {
      const n = r.varuint()
      if (n > r.b.length - r.p) throw new Error('bad array length')
      const out = new Array<unknown>(n)
      for (let i = 0; i < n; i++) out[i] = read(r)
      return out
    }
    case BYTES: {
      const len = r.varuint()
      if (r.p + len > r.b.length) throw new Error('truncated bytes')
      const out = r.b.slice(r.p, r.p + len)
      r.p += len
      return out
    }
    case DECIMAL: {
      const scale = r.varuint()
      return new Decimal(readBigint(r), scale)
    }
    case INTERVAL: {
      const months = r.v.getInt32(r.p, true)
      const days = r.v.getInt32(r.p + 4, true)
      const micros = r.v.getFloat64(r.p + 8, true)
      r.p += 16
      return new Interval(months, days, micros)
    }
    case JSONB:
      return new Jsonb(JSON.parse(r.string()) as JsonValue)
    default:
      throw new Error(`unknown tag ${tag}`)
  }
}

function readBigint(r: ByteReader): bigint {
  const tag = r.b[r.p++]
  if (tag === INT64) {
    const v = r.v.getBigInt64(r.p, true)
    r.p += 8
    return v
  }
  if (tag === BIGINT_TEXT) return BigInt(r.string())
  throw new Error(`expected a bigint, found tag ${tag}`)
}
