/**
 * Scalar function and operator resolution, following PostgreSQL's rules (the "Type Conversion"
 * chapter): an exact match wins, where an untyped literal beside a typed operand is assumed to
 * have that operand's type; otherwise among the candidates reachable by implicit casts keep those
 * with the most exact matches, then those taking the preferred type of the argument's category
 * (double precision for numbers, timestamptz for date/time, text for strings) where a cast is
 * needed; untyped literals prefer the string category. The binder inserts the casts the result
 * asks for and reports 42883 when nothing matches.
 */
import type { DataType, ScalarKind } from '../types/datatype.ts'
import type { ArgKind, Overload, ResolvedFunction } from './registry.ts'
import { T } from '../types/datatype.ts'
import { canCast } from '../types/cast.ts'
import { overloadsOf } from './registry.ts'
import './builtin-operators.ts'
import './builtin-text.ts'
import './builtin-math.ts'
import './builtin-time.ts'
import './builtin-json.ts'
import './builtin-catalog.ts'

export type { Impl, ResolvedFunction } from './registry.ts'

type Category = 'B' | 'N' | 'S' | 'D' | 'T' | 'U' | 'A' | 'X'

const CATEGORY: Record<ScalarKind, Category> = {
  bool: 'B',
  int2: 'N',
  int4: 'N',
  int8: 'N',
  float4: 'N',
  float8: 'N',
  numeric: 'N',
  text: 'S',
  bytea: 'U',
  date: 'D',
  time: 'D',
  timestamp: 'D',
  timestamptz: 'D',
  interval: 'T',
  jsonb: 'U',
  unknown: 'X',
}
const PREFERRED = new Set<ArgKind>(['float8', 'text', 'timestamptz', 'interval', 'bool'])

/** PostgreSQL's type category of a kind (pg_type.typcategory), which overload resolution also uses. */
export function categoryOf(k: ArgKind): Category | undefined {
  return k === 'any' ? undefined : CATEGORY[k]
}

interface Candidate {
  readonly o: Overload
  readonly sig: readonly ArgKind[]
}

function signature(o: Overload, n: number): readonly ArgKind[] | undefined {
  if (o.variadic !== true) return o.args.length === n ? o.args : undefined
  if (n < o.args.length - 1) return undefined
  const sig = o.args.slice(0, -1)
  while (sig.length < n) sig.push(o.args[o.args.length - 1])
  return sig
}

function accepts(want: ArgKind, have: DataType): boolean {
  if (want === 'any' || have.kind === 'unknown') return true
  if (have.kind === want) return true
  return canCast(have, T[want], 'implicit')
}

function exactly(want: ArgKind, have: DataType): boolean {
  return want === 'any' ? have.kind !== 'unknown' : have.kind === want
}

/** Keeps the candidates with the highest score, unless none scores (then keeps all). */
function keepBest(cands: Candidate[], score: (c: Candidate) => number): Candidate[] {
  let best = -1
  let out: Candidate[] = []
  for (const c of cands) {
    const s = score(c)
    if (s > best) {
      best = s
      out = [c]
    } else if (s === best) out.push(c)
  }
  return out
}

function choose(
  cands: readonly Candidate[],
  args: readonly DataType[],
  binaryOperator: boolean,
): Candidate | undefined {
  // 1. Exact match; a lone untyped literal of a binary operator takes the other side's type.
  const known = args.filter((a) => a.kind !== 'unknown')
  const assumed =
    binaryOperator && known.length === 1 && args.length === 2
      ? args.map((a) => (a.kind === 'unknown' ? known[0] : a))
      : args
  const exact = cands.find((c) => c.sig.every((w, i) => w !== 'any' && assumed[i].kind === w))
  if (exact !== undefined) return exact

  // 2. Candidates reachable by implicit casts.
  let live = cands.filter((c) => c.sig.every((w, i) => accepts(w, args[i])))
  if (live.length <= 1) return live[0]

  // 3. Most exact matches, then most preferred types where a cast is needed.
  live = keepBest(live, (c) => c.sig.reduce((n, w, i) => n + (exactly(w, args[i]) ? 1 : 0), 0))
  if (live.length === 1) return live[0]
  live = keepBest(live, (c) =>
    c.sig.reduce((n, w, i) => n + (args[i].kind !== 'unknown' && !exactly(w, args[i]) && PREFERRED.has(w) ? 1 : 0), 0),
  )
  if (live.length === 1) return live[0]

  // 4. Untyped literals: the string category if any candidate takes it, else a common category;
  //    then the preferred type of that category.
  for (let i = 0; i < args.length; i++) {
    if (args[i].kind !== 'unknown') continue
    const cats = new Set(live.map((c) => categoryOf(c.sig[i])).filter((k) => k !== undefined))
    const cat = cats.has('S') ? 'S' : cats.size === 1 ? [...cats][0] : undefined
    if (cat === undefined) continue
    const inCat = live.filter((c) => categoryOf(c.sig[i]) === cat || c.sig[i] === 'any')
    const preferred = inCat.filter((c) => PREFERRED.has(c.sig[i]))
    live = preferred.length > 0 ? preferred : inCat
  }
  if (live.length === 1) return live[0]

  // 5. All typed arguments share a type: assume the untyped ones have it too.
  if (known.length > 0 && known.length < args.length && known.every((k) => k.kind === known[0].kind)) {
    const same = live.filter((c) => c.sig.every((w, i) => args[i].kind !== 'unknown' || w === known[0].kind))
    if (same.length >= 1) return same[0]
  }
  // PostgreSQL would call this ambiguous; the first registered overload is the usual reading.
  return live[0]
}

/**
 * Resolves a function or operator (by name or symbol; unary minus is '-' with one argument or
 * 'neg') for these argument types. Returns the function and the type each argument must be cast
 * to first, or undefined when nothing matches.
 */
export function resolveFunction(
  name: string,
  argTypes: readonly DataType[],
): { fn: ResolvedFunction; argTypes: readonly DataType[] } | undefined {
  const lower = name.toLowerCase()
  const overloads = overloadsOf(lower)
  if (overloads === undefined) return undefined
  const cands: Candidate[] = []
  for (const o of overloads) {
    const sig = signature(o, argTypes.length)
    if (sig !== undefined) cands.push({ o, sig })
  }
  const binaryOperator = argTypes.length === 2 && !/^[a-z_]/.test(lower)
  const chosen = choose(cands, argTypes, binaryOperator)
  if (chosen === undefined) return undefined
  const targets = chosen.sig.map((w, i): DataType => {
    if (w !== 'any') return T[w]
    return argTypes[i].kind === 'unknown' ? T.text : argTypes[i]
  })
  const o = chosen.o
  const bind = o.bind
  const fn: ResolvedFunction = {
    name: lower,
    argTypes: targets,
    returnType: o.returns?.(targets) ?? T[o.ret],
    strict: o.strict ?? true,
    ...(o.inline !== undefined ? { inline: o.inline } : {}),
    ...(o.impl !== undefined ? { impl: o.impl } : {}),
    ...(bind !== undefined ? { bind: (ctx) => bind(ctx, targets) } : {}),
  }
  return { fn, argTypes: targets }
}
