/**
 * Date and time functions: date_trunc, extract (numeric, as PostgreSQL 14+) and date_part
 * (double precision), date_bin, to_timestamp, to_char (templates in to-char.ts), and the
 * statement clock (now() and friends, fixed for the whole statement by the compile context).
 * TIMESTAMPTZ fields are taken in the session time zone.
 */
import type { Interval } from '../types/interval.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { dateTrunc, datePart, extractField, instantToLocal, zoneOffsetSeconds } from '../types/time.ts'
import { def } from './registry.ts'
import { toCharFormatter } from './to-char.ts'

const US_PER_DAY = 86_400_000_000

type Temporal = 'timestamp' | 'timestamptz' | 'date' | 'time'

function dateBin(stride: Interval, source: number, origin: number): number {
  if (stride.months !== 0) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      'timestamps cannot be binned into intervals containing months or years',
    )
  }
  const step = stride.days * US_PER_DAY + stride.micros
  if (step <= 0) throw new SluiceError(SqlState.datetime_field_overflow, 'stride must be greater than zero')
  const diff = source - origin
  return origin + (diff - (((diff % step) + step) % step))
}

def(
  'date_trunc',
  { args: ['text', 'timestamp'], ret: 'timestamp', impl: (u, ts) => dateTrunc(u as string, ts as number) },
  {
    args: ['text', 'timestamptz'],
    ret: 'timestamptz',
    bind: (ctx) => (u, ts) => dateTrunc(u as string, ts as number, ctx.timezone),
  },
)

const TEMPORAL: readonly Temporal[] = ['timestamp', 'timestamptz', 'date', 'time']
def(
  'extract',
  ...TEMPORAL.map((t) => ({
    args: ['text', t] as const,
    ret: 'numeric' as const,
    bind: (ctx: { readonly timezone: string }) => (f: unknown, v: unknown) =>
      extractField(f as string, v as number, t, ctx.timezone),
  })),
  { args: ['text', 'interval'], ret: 'numeric', impl: (f, v) => extractField(f as string, v as Interval, 'interval') },
)
// date_part has no date overload in PostgreSQL: a date goes through timestamp (with time zone).
def(
  'date_part',
  ...(['timestamp', 'timestamptz', 'time'] as const).map((t) => ({
    args: ['text', t] as const,
    ret: 'float8' as const,
    bind: (ctx: { readonly timezone: string }) => (f: unknown, v: unknown) =>
      datePart(f as string, v as number, t, ctx.timezone),
  })),
  { args: ['text', 'interval'], ret: 'float8', impl: (f, v) => datePart(f as string, v as Interval, 'interval') },
)
def(
  'date_bin',
  {
    args: ['interval', 'timestamp', 'timestamp'],
    ret: 'timestamp',
    impl: (s, t, o) => dateBin(s as Interval, t as number, o as number),
  },
  {
    args: ['interval', 'timestamptz', 'timestamptz'],
    ret: 'timestamptz',
    impl: (s, t, o) => dateBin(s as Interval, t as number, o as number),
  },
)
def('to_timestamp', {
  args: ['float8'],
  ret: 'timestamptz',
  impl: (s) => {
    const v = s as number
    if (Number.isNaN(v)) throw new SluiceError(SqlState.datetime_field_overflow, 'timestamp cannot be NaN')
    // PostgreSQL's range: 4714-11-24 BC to 294276 AD.
    if (!Number.isFinite(v) || v < -210866803200 || v >= 9224318016000) {
      throw new SluiceError(SqlState.datetime_field_overflow, `timestamp out of range: "${String(v)}"`)
    }
    return Math.round(v * 1e6)
  },
})
def(
  'to_char',
  {
    args: ['timestamp', 'text'],
    ret: 'text',
    bind: () => {
      const format = toCharFormatter(undefined)
      return (ts, fmt) => format(ts as number, fmt as string)
    },
  },
  {
    args: ['timestamptz', 'text'],
    ret: 'text',
    bind: (ctx) => {
      // TZ prints the zone's abbreviation; only UTC's is known without a zone database.
      const utc = ['utc', 'etc/utc'].includes(ctx.timezone.toLowerCase())
      const format = toCharFormatter((us) => ({
        offset: zoneOffsetSeconds(us, ctx.timezone),
        zone: utc ? 'UTC' : undefined,
      }))
      return (ts, fmt) => format(ts as number, fmt as string)
    },
  },
)
def(['now', 'current_timestamp', 'transaction_timestamp', 'statement_timestamp'], {
  args: [],
  ret: 'timestamptz',
  strict: false,
  bind: (ctx) => () => ctx.now,
})
def(['localtimestamp'], {
  args: [],
  ret: 'timestamp',
  strict: false,
  bind: (ctx) => () => instantToLocal(ctx.now, ctx.timezone),
})
def('current_date', {
  args: [],
  ret: 'date',
  strict: false,
  bind: (ctx) => () => Math.floor(instantToLocal(ctx.now, ctx.timezone) / US_PER_DAY),
})
