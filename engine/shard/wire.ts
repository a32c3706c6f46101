/**
 * The chunk wire format of the sharded runtime: a chunk encoded into one buffer that a keyed
 * exchange transfers to another worker thread (postMessage with a transfer list, no copy).
 *
 * Why not the row codec (state/row.ts) row by row: an exchange moves every row of a view, so the
 * format is column-wise and the common kinds are bulk copies through typed arrays. Layout (header
 * fields little-endian, values in platform byte order: both ends are threads of one process),
 * every section 8-byte aligned so the decoder reads it through a typed-array view of the
 * received buffer:
 *
 *   header   u8 magic 'S', u8 version, u16 0, u32 rows, u32 columns, u32 total bytes
 *   ops      rows × i8
 *   column   u8 nulls (0 none, 1 bitmap, 2 all null), u8 flags (text: 1 = all ASCII), u16 0,
 *            u32 payload bytes (text: UTF-8 area; codec: encoded column), then the bitmap
 *            (bit set = NULL) if nulls = 1, then the values unless nulls = 2:
 *              int2/int4/date                 rows × i32 (NULL rows 0)
 *              float4/8, time, timestamp(tz)  rows × f64 (NULL rows 0; NaN and -0 kept)
 *              int8                           rows × i64
 *              bool                           rows × u8
 *              text                           rows × i32 end offsets (bytes), then the UTF-8 area
 *              numeric, interval, jsonb,      the whole column as one array value of the row
 *              bytea, arrays                  codec (it carries its own null bitmap)
 *
 * int2/int4/date travel as i32, so an integer column's -0 (if arithmetic ever made one) arrives
 * as 0: equal under valuesEqual and printed alike. Lone UTF-16 surrogates in text become U+FFFD,
 * as in the state codec.
 */
import type { Chunk, Column } from '../chunk.ts'
import type { DataType, Value } from '../types/datatype.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { ByteWriter } from '../state/bytes.ts'
import { decodeRow, encodeRow } from '../state/row.ts'
import { arrayOf } from '../types/datatype.ts'

const MAGIC = 0x53
const VERSION = 1
const HEADER = 16
const COLUMN_HEADER = 8

const NULLS_NONE = 0
const NULLS_BITMAP = 1
const NULLS_ALL = 2
const FLAG_ASCII = 1

/** How a column of a type travels. */
type Rep = 'i32' | 'f64' | 'i64' | 'bool' | 'text' | 'codec'

function repOf(type: DataType): Rep {
  switch (type.kind) {
    case 'int2':
    case 'int4':
    case 'date':
      return 'i32'
    case 'float4':
    case 'float8':
    case 'time':
    case 'timestamp':
    case 'timestamptz':
      return 'f64'
    case 'int8':
      return 'i64'
    case 'bool':
      return 'bool'
    case 'text':
    case 'unknown':
      return 'text'
    case 'numeric':
    case 'interval':
    case 'jsonb':
    case 'bytea':
    case 'array':
      return 'codec'
  }
}

/** A Buffer with Node's unchecked slice decoders (what toString(encoding, start, end) calls after its checks). */
type SliceBuffer = Buffer & {
  latin1Slice(start: number, end: number): string
  utf8Slice(start: number, end: number): string
}

/**
 * The encoder's scratch buffer, reused by every call (encoders are synchronous and never nest);
 * the result is one copy out of it, so it owns its buffer. A scratch grown past SCRATCH_KEEP by
 * an outsized chunk is dropped after that chunk rather than held for the thread's lifetime.
 */
let w = new ByteWriter()
const SCRATCH_KEEP = 16 << 20
const encoder = new TextEncoder()

function align8(): void {
  const pad = (8 - (w.pos & 7)) & 7
  if (pad === 0) return
  w.ensure(pad)
  w.buf.fill(0, w.pos, w.pos + pad)
  w.pos += pad
}

function wireError(message: string): SluiceError {
  return new SluiceError(SqlState.internal_error, `chunk wire format: ${message}`, { domain: 'internal' })
}

/** A chunk encoded for another thread: `bytes.buffer` is owned by it alone (byteOffset 0), so it can be transferred (postMessage transfer list) without a copy. */
export function encodeChunk(chunk: Chunk, types: readonly DataType[]): Uint8Array<ArrayBuffer> {
  const rows = chunk.length
  const width = types.length
  if (chunk.columns.length !== width) {
    throw wireError(`chunk has ${chunk.columns.length} columns, its types ${width}`)
  }
  w.reset()
  w.ensure(HEADER + rows)
  w.buf[0] = MAGIC
  w.buf[1] = VERSION
  w.view.setUint16(2, 0, true)
  w.view.setUint32(4, rows, true)
  w.view.setUint32(8, width, true)
  w.buf.set(new Uint8Array(chunk.ops.buffer, chunk.ops.byteOffset, rows), HEADER)
  w.pos = HEADER + rows
  align8()
  for (let c = 0; c < width; c++) encodeColumn(chunk.columns[c], rows, types[c])
  w.view.setUint32(12, w.pos, true)
  // A copy out of the scratch; typed with its ArrayBuffer, so `[bytes.buffer]` is a transfer list.
  const out = w.buf.slice(0, w.pos)
  if (w.buf.length > SCRATCH_KEEP) w = new ByteWriter()
  return out
}

function encodeColumn(col: Column, rows: number, type: DataType): void {
  const at = w.pos
  w.ensure(COLUMN_HEADER)
  w.buf.fill(0, at, at + COLUMN_HEADER)
  w.pos += COLUMN_HEADER
  const rep = repOf(type)
  if (rep === 'codec') {
    // The row codec writes its own null bitmap; one call for the whole column.
    const bytes = encodeRow([rows === col.length ? col : col.slice(0, rows)], [arrayOf(type)])
    w.view.setUint32(at + 4, bytes.length, true)
    w.bytes(bytes)
    align8()
    return
  }
  const nulls = countNulls(col, rows)
  if (nulls === rows && rows > 0) {
    w.buf[at] = NULLS_ALL
    return
  }
  if (nulls > 0) {
    w.buf[at] = NULLS_BITMAP
    writeBitmap(col, rows)
    align8()
  }
  switch (rep) {
    case 'i32':
      encodeI32(col, rows, nulls > 0)
      break
    case 'f64':
      encodeF64(col, rows, nulls > 0)
      break
    case 'i64':
      encodeI64(col, rows, nulls > 0)
      break
    case 'bool':
      encodeBool(col, rows)
      break
    case 'text':
      encodeText(col, rows, at)
      break
  }
  align8()
}

function countNulls(col: Column, rows: number): number {
  let n = 0
  for (let i = 0; i < rows; i++) if (col[i] === null) n++
  return n
}

function writeBitmap(col: Column, rows: number): void {
  const bytes = (rows + 7) >> 3
  w.ensure(bytes)
  const buf = w.buf
  const at = w.pos
  buf.fill(0, at, at + bytes)
  for (let i = 0; i < rows; i++) if (col[i] === null) buf[at + (i >> 3)] |= 1 << (i & 7)
  w.pos += bytes
}

function encodeI32(col: Column, rows: number, nulls: boolean): void {
  w.ensure(rows * 4)
  const out = new Int32Array(w.buf.buffer, w.pos, rows)
  if (nulls) {
    for (let i = 0; i < rows; i++) {
      const v = col[i] as number | null
      out[i] = v === null ? 0 : v
    }
  } else {
    for (let i = 0; i < rows; i++) out[i] = col[i] as number
  }
  w.pos += rows * 4
}

function encodeF64(col: Column, rows: number, nulls: boolean): void {
  w.ensure(rows * 8)
  const out = new Float64Array(w.buf.buffer, w.pos, rows)
  if (nulls) {
    for (let i = 0; i < rows; i++) {
      const v = col[i] as number | null
      out[i] = v === null ? 0 : v
    }
  } else {
    for (let i = 0; i < rows; i++) out[i] = col[i] as number
  }
  w.pos += rows * 8
}

function encodeI64(col: Column, rows: number, nulls: boolean): void {
  w.ensure(rows * 8)
  const out = new BigInt64Array(w.buf.buffer, w.pos, rows)
  for (let i = 0; i < rows; i++) {
    const v = col[i] as bigint | number | null
    // A number in an int8 column is a caller's slip, but an exact one (as in state/row.ts).
    out[i] = typeof v === 'bigint' ? v : nulls && v === null ? 0n : BigInt(v as number)
  }
  w.pos += rows * 8
}

function encodeBool(col: Column, rows: number): void {
  w.ensure(rows)
  const buf = w.buf
  const at = w.pos
  for (let i = 0; i < rows; i++) buf[at + i] = col[i] === true ? 1 : 0
  w.pos += rows
}

/** Strings joined per native encode call (see encodeText). */
const TEXT_GROUP = 64

/**
 * Byte end offsets, then the UTF-8 area. Strings are joined in groups of TEXT_GROUP and each
 * group is encoded by one native call: a call per string costs twice as much, and joining the
 * whole column builds a flat string large enough for V8's large-object space, whose growth sets
 * off full garbage collections. A group whose byte count differs from its UTF-16 length holds
 * non-ASCII text and is written again string by string, for its offsets; the ASCII flag lets the
 * decoder use latin1.
 */
function encodeText(col: Column, rows: number, header: number): void {
  let chars = 0
  for (let i = 0; i < rows; i++) {
    const v = col[i] as string | null
    if (v !== null) chars += v.length
  }
  w.ensure(rows * 4 + chars * 3)
  const ends = new Int32Array(w.buf.buffer, w.pos, rows)
  w.pos += rows * 4
  const area = w.pos
  let ascii = true
  for (let from = 0; from < rows; from += TEXT_GROUP) {
    const to = Math.min(rows, from + TEXT_GROUP)
    const start = w.pos - area
    let joined = ''
    for (let i = from; i < to; i++) {
      const v = col[i] as string | null
      if (v !== null) joined += v
      ends[i] = start + joined.length
    }
    if (joined.length === 0) continue
    const at = w.pos
    const written = encoder.encodeInto(joined, w.buf.subarray(at, at + joined.length * 3)).written
    if (written === joined.length) {
      w.pos += written
      continue
    }
    ascii = false
    // Room was reserved for 3 bytes per UTF-16 unit, so w.utf8 never grows the buffer here.
    for (let i = from; i < to; i++) {
      const v = col[i] as string | null
      if (v !== null) w.utf8(v)
      ends[i] = w.pos - area
    }
  }
  if (ascii) w.buf[header + 1] = FLAG_ASCII
  w.view.setUint32(header + 4, w.pos - area, true)
}

/** Decodes a chunk written by encodeChunk with the same types. */
export function decodeChunk(bytes: Uint8Array, types: readonly DataType[]): Chunk {
  // Typed-array views need 8-byte alignment; a transferred buffer has it, a subarray may not.
  if ((bytes.byteOffset & 7) !== 0) bytes = bytes.slice()
  if (bytes.length < HEADER || bytes[0] !== MAGIC || bytes[1] !== VERSION) throw wireError('not an encoded chunk')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const rows = view.getUint32(4, true)
  const width = view.getUint32(8, true)
  if (width !== types.length) throw wireError(`chunk has ${width} columns, its types ${types.length}`)
  if (view.getUint32(12, true) !== bytes.length) throw wireError('truncated chunk')
  const ops = new Int8Array(bytes.buffer, bytes.byteOffset + HEADER, rows).slice()
  const r: Reader = { bytes, view, pos: pad8(HEADER + rows) }
  const columns: Column[] = []
  for (let c = 0; c < width; c++) columns.push(decodeColumn(r, rows, types[c]))
  if (r.pos !== bytes.length) throw wireError('chunk does not end where its columns do')
  return { ops, columns, length: rows }
}

interface Reader {
  readonly bytes: Uint8Array
  readonly view: DataView
  pos: number
}

function pad8(n: number): number {
  return (n + 7) & ~7
}

function decodeColumn(r: Reader, rows: number, type: DataType): Column {
  const at = r.pos
  if (at + COLUMN_HEADER > r.bytes.length) throw wireError('truncated chunk')
  const nulls = r.bytes[at]
  if (nulls !== NULLS_NONE && nulls !== NULLS_BITMAP && nulls !== NULLS_ALL) throw wireError('bad null marker')
  const flags = r.bytes[at + 1]
  const payload = r.view.getUint32(at + 4, true)
  r.pos += COLUMN_HEADER
  const rep = repOf(type)
  if (rep === 'codec') {
    const end = r.pos + payload
    if (end > r.bytes.length) throw wireError('truncated chunk')
    const col = decodeRow(r.bytes.subarray(r.pos, end), [arrayOf(type)])[0] as Value[]
    if (col.length !== rows) throw wireError('column length differs from the chunk')
    r.pos = pad8(end)
    return col
  }
  if (nulls === NULLS_ALL) return new Array<Value>(rows).fill(null)
  let bitmap: Uint8Array | undefined
  if (nulls === NULLS_BITMAP) {
    bitmap = r.bytes.subarray(r.pos, r.pos + ((rows + 7) >> 3))
    r.pos = pad8(r.pos + bitmap.length)
  }
  const base = r.bytes.byteOffset + r.pos
  const buffer = r.bytes.buffer
  let col: Column
  switch (rep) {
    case 'i32':
      checkRoom(r, rows * 4)
      col = decodeI32(new Int32Array(buffer, base, rows), rows)
      r.pos += rows * 4
      break
    case 'f64':
      checkRoom(r, rows * 8)
      col = decodeF64(new Float64Array(buffer, base, rows), rows)
      r.pos += rows * 8
      break
    case 'i64':
      checkRoom(r, rows * 8)
      col = decodeI64(new BigInt64Array(buffer, base, rows), rows)
      r.pos += rows * 8
      break
    case 'bool':
      checkRoom(r, rows)
      col = decodeBool(r.bytes, r.pos, rows)
      r.pos += rows
      break
    case 'text': {
      checkRoom(r, rows * 4 + payload)
      const ends = new Int32Array(buffer, base, rows)
      const area = base + rows * 4
      const text = Buffer.from(buffer, area, payload) as SliceBuffer
      col = (flags & FLAG_ASCII) !== 0 ? decodeAscii(text, ends, rows) : decodeUtf8(text, ends, rows)
      r.pos += rows * 4 + payload
      break
    }
  }
  if (bitmap !== undefined) {
    for (let i = 0; i < rows; i++) if ((bitmap[i >> 3] & (1 << (i & 7))) !== 0) col[i] = null
  }
  r.pos = pad8(r.pos)
  return col
}

function checkRoom(r: Reader, n: number): void {
  if (r.pos + n > r.bytes.length) throw wireError('truncated chunk')
}

// One function per representation, so each loop's loads and stores see one element kind and
// numbers stay unboxed (the arrays come out packed: SMI, double, or objects).

function decodeI32(src: Int32Array, rows: number): Column {
  const out: Value[] = []
  for (let i = 0; i < rows; i++) out.push(src[i])
  return out
}

function decodeF64(src: Float64Array, rows: number): Column {
  const out: Value[] = []
  for (let i = 0; i < rows; i++) out.push(src[i])
  return out
}

function decodeI64(src: BigInt64Array, rows: number): Column {
  const out: Value[] = []
  for (let i = 0; i < rows; i++) out.push(src[i])
  return out
}

function decodeBool(b: Uint8Array, at: number, rows: number): Column {
  const out: Value[] = []
  for (let i = 0; i < rows; i++) out.push(b[at + i] === 1)
  return out
}

/**
 * V8 makes a substring of at least this many characters a slice that keeps its parent alive;
 * shorter ones are copies.
 */
const SLICE_MIN = 13

/**
 * Strings are copied out one by one (a native latin1 copy each), never sliced from one string of
 * the whole area: V8 keeps a slice's parent alive, so a single text key kept in operator state
 * would pin its chunk's entire text. Short strings, where a native call costs most, are cut from
 * one latin1 string per group of TEXT_GROUP instead: substrings that short are copies.
 */
function decodeAscii(text: SliceBuffer, ends: Int32Array, rows: number): Column {
  const out: Value[] = []
  let start = 0
  for (let from = 0; from < rows; from += TEXT_GROUP) {
    const to = Math.min(rows, from + TEXT_GROUP)
    const base = start
    const group = text.latin1Slice(base, ends[to - 1])
    for (let i = from; i < to; i++) {
      const end = ends[i]
      out.push(end - start < SLICE_MIN ? group.substring(start - base, end - base) : text.latin1Slice(start, end))
      start = end
    }
  }
  return out
}

function decodeUtf8(text: SliceBuffer, ends: Int32Array, rows: number): Column {
  const out: Value[] = []
  let start = 0
  for (let i = 0; i < rows; i++) {
    const end = ends[i]
    out.push(end === start ? '' : text.utf8Slice(start, end))
    start = end
  }
  return out
}
