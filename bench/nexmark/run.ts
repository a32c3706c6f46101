/**
 * The Nexmark benchmark: Sluice, and Flink SQL as the baseline, on the same events, side by side.
 *
 *   npx tsx bench/nexmark/run.ts --engines sluice,flink --events 10000000
 *       [--queries q0-q22] [--mode kafka|datagen] [--rounds 1 (0: check only)] [--rate 1000] [--seed 42]
 *       [--check-events 200000 | all | 0] [--brokers 127.0.0.1:19092]
 *       [--pg postgres://postgres@127.0.0.1:5432/postgres] [--timeout 1800] [--out bench/results]
 *
 * 1. Events: the Nexmark generator Sluice's datagen uses (events.ts). In kafka mode they are
 *    written once as JSON to three one-partition topics (reused while they hold the same events);
 *    both engines read those. In datagen mode Sluice generates them in-process (no Kafka, no JSON)
 *    and Flink is not run (its side has no Nexmark generator).
 * 2. Check: each query runs in Sluice over the first --check-events events and is compared with
 *    PostgreSQL over the same events (check.ts). A query Sluice refuses is a gap, with the
 *    SQLSTATE; a mismatch is reported and the query is not timed. Flink's final row count of the
 *    query over topics holding the same events is compared too; a difference is printed with
 *    its figures.
 * 3. Timing: each engine runs each query in its own process (measure.ts), CPU of the whole
 *    process (all threads) and peak RSS from /proc; rounds rotate the engine order. Medians are
 *    reported as events/s (wall), events per CPU-second and peak RSS, in a table printed at the
 *    end and written to --out (JSON, Markdown and SVG charts).
 *
 * Events are counted over the whole stream (persons, auctions and bids), as the Nexmark suite does,
 * whatever the query reads.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join, dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkQuery, Oracle, type CheckOutcome } from './check.ts'
import { ensureTopics, type EventSpec } from './events.ts'
import { buildFlink, flinkArgs, flinkCount } from './flink.ts'
import { measureProcess, type Measurement } from './measure.ts'
import { selectQueries, type NexmarkQuery } from './queries.ts'
import { markdownTable, overviewChart, queryChart, textTable, type EngineResult, type QueryReport } from './report.ts'
import type { SluiceRunSpec } from './sluice-child.ts'
import type { SourceMode } from './sluice-sources.ts'

const HERE = dirname(fileURLToPath(import.meta.url))

interface Options {
  readonly engines: string[]
  readonly mode: SourceMode
  readonly spec: EventSpec
  readonly queries: NexmarkQuery[]
  readonly rounds: number
  readonly checkEvents: number
  readonly brokers: string
  readonly pg: string
  readonly timeoutMs: number
  readonly out: string
  /** Sluice's --workers: shards per query (the Flink side keeps its parallelism). */
  readonly workers: number
}

function parseArgs(argv: readonly string[]): Options {
  const args = new Map<string, string>()
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]
    const value = argv[i + 1]
    if (!name.startsWith('--') || value === undefined) throw new Error(`expected --option value, got "${name}"`)
    args.set(name.slice(2), value)
  }
  const known = [
    'engines',
    'mode',
    'events',
    'queries',
    'rounds',
    'rate',
    'seed',
    'check-events',
    'brokers',
    'pg',
    'timeout',
    'out',
    'workers',
  ]
  for (const name of args.keys())
    if (!known.includes(name)) throw new Error(`unknown option --${name} (known: ${known.join(', ')})`)
  const num = (name: string, dflt: number): number => {
    const v = Number(args.get(name) ?? dflt)
    if (!Number.isFinite(v) || v < 0) throw new Error(`--${name} must be a non-negative number`)
    return v
  }
  const mode = args.get('mode') ?? 'kafka'
  if (mode !== 'kafka' && mode !== 'datagen') throw new Error('--mode must be kafka or datagen')
  const engines = (args.get('engines') ?? 'sluice,flink').split(',')
  for (const e of engines) if (e !== 'sluice' && e !== 'flink') throw new Error(`unknown engine ${e} (sluice, flink)`)
  const events = num('events', 1_000_000)
  const checkText = args.get('check-events') ?? String(Math.min(events, 200_000))
  return {
    engines,
    mode,
    spec: { events, rate: num('rate', 1000), seed: num('seed', 42), baseTime: '2024-01-01T00:00:00Z' },
    queries: selectQueries(args.get('queries') ?? 'q0-q22'),
    rounds: num('rounds', 1),
    checkEvents: checkText === 'all' ? events : Math.min(events, Number(checkText)),
    brokers: args.get('brokers') ?? '127.0.0.1:19092',
    pg: args.get('pg') ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    timeoutMs: num('timeout', 1800) * 1000,
    out: resolve(args.get('out') ?? join(HERE, '../results')),
    workers: Math.max(1, num('workers', 1)),
  }
}

const log = (line: string): void => console.log(`[nexmark] ${line}`)

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

function summarize(engine: string, events: number, ms: readonly Measurement[], fixed: number): EngineResult {
  return {
    engine,
    fixedCpuS: fixed,
    netEventsPerCpuSecond: median(ms.map((m) => (m.cpuS > fixed ? events / (m.cpuS - fixed) : NaN))),
    eventsPerSecond: median(ms.map((m) => events / m.wallS)),
    eventsPerCpuSecond: median(ms.map((m) => events / m.cpuS)),
    cpuS: median(ms.map((m) => m.cpuS)),
    wallS: median(ms.map((m) => m.wallS)),
    peakRssMiB: median(ms.map((m) => m.peakRssMiB)),
    rounds: ms.length,
  }
}

function describe(outcome: CheckOutcome | undefined): string {
  if (outcome === undefined) return 'not checked'
  switch (outcome.kind) {
    case 'ok':
      return `Sluice matches PostgreSQL (${outcome.rows} rows)`
    case 'mismatch':
      return `MISMATCH with PostgreSQL: ${outcome.detail}`
    case 'gap':
      return `gap: ${outcome.reason}`
  }
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const engines = o.mode === 'datagen' ? o.engines.filter((e) => e !== 'flink') : o.engines
  if (engines.length < o.engines.length) log('datagen mode: Flink is run in kafka mode only')
  log(
    `${o.spec.events} events at ${o.spec.rate} events/s of event time, seed ${o.spec.seed}; engines ${engines.join(', ')}; mode ${o.mode}`,
  )

  const prefix = o.mode === 'kafka' ? await ensureTopics(o.brokers, o.spec, log) : ''
  // The same query over no events: what the engine spends whatever the input (planning, code
  // generation, Flink's MiniCluster and job start), reported beside the totals as a fixed cost.
  const empty: Options = { ...o, spec: { ...o.spec, events: 0 } }
  const emptyPrefix = o.mode === 'kafka' ? await ensureTopics(o.brokers, empty.spec, log) : ''
  let flinkClasspath: string | undefined
  let flinkUnavailable: string | undefined
  if (engines.includes('flink')) {
    try {
      flinkClasspath = buildFlink(log)
    } catch (e) {
      flinkUnavailable = `the Flink baseline could not be built: ${e instanceof Error ? e.message : String(e)}`
      log(flinkUnavailable)
    }
  }

  // Correctness first: a query is timed only once it matches PostgreSQL.
  const outcomes = new Map<string, CheckOutcome>()
  /**
   * Flink's check per query: its final row count against PostgreSQL's. A difference is shown
   * beside Flink's figures rather than withholding them: it is the baseline, not the subject.
   */
  const flinkWrong = new Map<string, string>()
  const flinkCounted = new Set<string>()
  if (o.checkEvents > 0) {
    const checkSpec = { ...o.spec, events: o.checkEvents }
    log(`checking against PostgreSQL on the first ${o.checkEvents} events`)
    const checkPrefix = flinkClasspath === undefined ? '' : await ensureTopics(o.brokers, checkSpec, log)
    const oracle = await Oracle.open(o.pg, checkSpec)
    try {
      for (const q of o.queries) {
        if (q.gap !== undefined) continue
        const outcome = await checkQuery(q, checkSpec, oracle, o.workers)
        outcomes.set(q.name, outcome)
        log(`${q.name}: ${describe(outcome)}`)
        if (flinkClasspath === undefined || outcome.kind !== 'ok' || q.flinkGap !== undefined) continue
        // Flink's rows print differently (ms timestamps, integer avg), so its check is the row count.
        try {
          const n = flinkCount(flinkClasspath, o.brokers, checkPrefix, q.name, q.flink ?? q.sql)
          if (n !== outcome.rows) flinkWrong.set(q.name, `Flink holds ${n} rows, PostgreSQL ${outcome.rows}`)
          else flinkCounted.add(q.name)
          log(`${q.name}: Flink ${n} rows, PostgreSQL ${outcome.rows}`)
        } catch (e) {
          flinkWrong.set(q.name, `Flink's check failed: ${(e instanceof Error ? e.message : String(e)).slice(0, 300)}`)
        }
      }
    } finally {
      await oracle.close()
    }
  }

  const reports: QueryReport[] = []
  for (const q of o.queries) {
    const outcome = outcomes.get(q.name)
    if (q.gap !== undefined) {
      reports.push({ query: q.name, title: q.title, check: `gap: ${q.gap}`, results: [] })
      continue
    }
    if (outcome !== undefined && outcome.kind !== 'ok') {
      reports.push({ query: q.name, title: q.title, check: describe(outcome), results: [] })
      continue
    }
    const runs = new Map<string, Measurement[]>(engines.map((e) => [e, []]))
    const fixed = new Map<string, number>()
    const failures: string[] = []
    const skip = (engine: string): boolean =>
      engine === 'flink' && (flinkClasspath === undefined || q.flinkGap !== undefined)
    for (const engine of o.rounds > 0 ? engines : []) {
      if (skip(engine)) continue
      try {
        fixed.set(engine, (await runEngine(engine, q, empty, emptyPrefix, flinkClasspath)).cpuS)
      } catch (e) {
        log(`${q.name} ${engine} on no events failed: ${e instanceof Error ? e.message : String(e)}`)
      }
    }
    for (let round = 0; round < o.rounds; round++) {
      const order = engines.map((_, i) => engines[(i + round) % engines.length])
      for (const engine of order) {
        if (skip(engine)) continue
        try {
          const m = await runEngine(engine, q, o, prefix, flinkClasspath)
          runs.get(engine)?.push(m)
          log(
            `${q.name} ${engine} round ${round + 1}: ${(o.spec.events / m.wallS / 1000).toFixed(0)}k events/s, ` +
              `${(o.spec.events / m.cpuS / 1000).toFixed(0)}k events per CPU-s, ${m.peakRssMiB.toFixed(0)} MiB`,
          )
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e)
          failures.push(`${engine}: ${why.split('\n').slice(0, 3).join(' ')}`)
          log(`${q.name} ${engine} failed: ${why}`)
        }
      }
    }
    const results = [...runs]
      .filter(([, ms]) => ms.length > 0)
      .map(([e, ms]) => summarize(e, o.spec.events, ms, fixed.get(e) ?? NaN))
    const flinkCheck = flinkWrong.get(q.name)
    const check = [
      describe(outcome),
      ...(flinkCheck === undefined ? [] : [`FLINK DIFFERS: ${flinkCheck}`]),
      ...(flinkCounted.has(q.name) ? ["Flink's row count matches"] : []),
      ...(q.flinkGap !== undefined && engines.includes('flink') ? [`Flink not run: ${q.flinkGap}`] : []),
      ...failures.map((f) => `failed: ${f}`),
    ].join('; ')
    reports.push({ query: q.name, title: q.title, check, results })
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)
  const subtitle = `${o.spec.events.toLocaleString('en')} events, ${o.mode}`
  mkdirSync(o.out, { recursive: true })
  const base = join(o.out, `nexmark-${stamp}`)
  writeFileSync(
    `${base}.json`,
    JSON.stringify({ options: { ...o, queries: o.queries.map((q) => q.name) }, flinkUnavailable, reports }, null, 2),
  )
  const notes = flinkUnavailable === undefined ? '' : `\n\nFlink: ${flinkUnavailable}\n`
  writeFileSync(`${base}.md`, `${markdownTable(reports)}${notes}\n`)
  writeFileSync(`${base}.svg`, overviewChart(reports, subtitle))
  for (const r of reports) if (r.results.length > 0) writeFileSync(`${base}-${r.query}.svg`, queryChart(r, subtitle))
  console.log(`\n${textTable(reports)}\n`)
  if (flinkUnavailable !== undefined) console.log(`Flink: ${flinkUnavailable}`)
  log(`written ${base}.{json,md,svg} and one SVG per timed query`)
}

function runEngine(
  engine: string,
  q: NexmarkQuery,
  o: Options,
  prefix: string,
  classpath: string | undefined,
): Promise<Measurement> {
  if (engine === 'flink' && classpath !== undefined) {
    return measureProcess('java', flinkArgs(classpath, o.brokers, prefix, q.name, q.flink ?? q.sql), o.timeoutMs)
  }
  const run: SluiceRunSpec = {
    mode: o.mode,
    spec: o.spec,
    brokers: o.brokers,
    prefix,
    sql: q.sql,
    tables: q.tables,
    workers: o.workers,
  }
  // The child runs under the same loader (tsx) as this process.
  return measureProcess(
    process.execPath,
    [...process.execArgv, join(HERE, 'sluice-child.ts'), JSON.stringify(run)],
    o.timeoutMs,
  )
}

await main()
