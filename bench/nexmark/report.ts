/**
 * The benchmark's report: a text table for the terminal, the same as Markdown for
 * docs/benchmarks.md, and SVG bar charts (one per query, plus an overview), written by hand so the
 * harness needs no plotting library.
 */

/** Medians over the rounds of one engine on one query. */
export interface EngineResult {
  readonly engine: string
  readonly eventsPerSecond: number
  readonly eventsPerCpuSecond: number
  /** CPU seconds of the same query over no events (one run). */
  readonly fixedCpuS: number
  /** Events per CPU-second once that fixed cost is taken off. */
  readonly netEventsPerCpuSecond: number
  readonly cpuS: number
  readonly wallS: number
  readonly peakRssMiB: number
  readonly rounds: number
}

export interface QueryReport {
  readonly query: string
  readonly title: string
  /** `ok (n rows)`, `mismatch: ...`, `gap: ...`, `not checked`. */
  readonly check: string
  readonly results: readonly EngineResult[]
}

const k = (v: number): string => (Number.isFinite(v) ? `${(v / 1000).toFixed(0)}k` : '-')

export function textTable(reports: readonly QueryReport[]): string {
  const head = ['query', 'engine', 'events/s', 'events/CPU-s', 'net', 'CPU s', 'fixed', 'wall s', 'RSS MiB', 'check']
  const rows: string[][] = [head]
  for (const r of reports) {
    if (r.results.length === 0) rows.push([r.query, '-', '-', '-', '-', '-', '-', '-', '-', r.check])
    for (const e of r.results) {
      rows.push([
        r.query,
        e.engine,
        k(e.eventsPerSecond),
        k(e.eventsPerCpuSecond),
        k(e.netEventsPerCpuSecond),
        e.cpuS.toFixed(1),
        e.fixedCpuS.toFixed(1),
        e.wallS.toFixed(1),
        e.peakRssMiB.toFixed(0),
        r.check,
      ])
    }
  }
  const last = head.length - 1
  const widths = head.map((_, c) => Math.max(...rows.map((row) => (c === last ? 0 : row[c].length))))
  return rows.map((row) => row.map((cell, c) => (c === last ? cell : cell.padEnd(widths[c]))).join('  ')).join('\n')
}

export function markdownTable(reports: readonly QueryReport[]): string {
  const lines = [
    '| query | engine | events/s | events per CPU-s | net of fixed cost | CPU s | fixed CPU s | wall s | peak RSS MiB |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of reports) {
    for (const e of r.results) {
      lines.push(
        `| ${r.query} ${r.title} | ${e.engine} | ${k(e.eventsPerSecond)} | ${k(e.eventsPerCpuSecond)} | ${k(e.netEventsPerCpuSecond)} | ${e.cpuS.toFixed(1)} | ${e.fixedCpuS.toFixed(1)} | ${e.wallS.toFixed(1)} | ${e.peakRssMiB.toFixed(0)} |`,
      )
    }
  }
  const gaps = reports.filter((r) => r.results.length === 0)
  if (gaps.length > 0) {
    lines.push('', 'Not timed:', '')
    for (const r of gaps) lines.push(`- **${r.query}** (${r.title}): ${r.check}`)
  }
  return lines.join('\n')
}

const COLORS: Record<string, string> = { sluice: '#2b7bb9', flink: '#e6550d' }
const color = (engine: string): string => COLORS[engine] ?? '#777'
const esc = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')

/** Grouped horizontal-axis bars: one group per label, one bar per engine, values in thousands. */
function bars(title: string, groups: readonly { label: string; values: readonly [string, number][] }[]): string {
  const engines = [...new Set(groups.flatMap((g) => g.values.map(([e]) => e)))]
  const max = Math.max(1, ...groups.flatMap((g) => g.values.map(([, v]) => (Number.isFinite(v) ? v : 0))))
  const barW = 22
  // Wide enough for the bars and for the label under them.
  const groupW = Math.max(engines.length * barW + 18, ...groups.map((g) => g.label.length * 6 + 10))
  const left = 60
  const top = 40
  const h = 220
  const width = Math.max(left + groups.length * groupW + 20, left + title.length * 7 + 20)
  const height = top + h + 60
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="13" font-weight="bold">${esc(title)}</text>`,
  ]
  for (let i = 0; i <= 4; i++) {
    const y = top + h - (h * i) / 4
    out.push(`<line x1="${left}" x2="${width - 10}" y1="${y}" y2="${y}" stroke="#ddd"/>`)
    const tick = (max * i) / 4 / 1000
    out.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end">${tick.toFixed(max < 40_000 ? 1 : 0)}k</text>`)
  }
  groups.forEach((g, gi) => {
    const x0 = left + gi * groupW + (groupW - engines.length * barW) / 2
    g.values.forEach(([engine, v]) => {
      const bh = Number.isFinite(v) ? (h * v) / max : 0
      const x = x0 + engines.indexOf(engine) * barW
      out.push(`<rect x="${x}" y="${top + h - bh}" width="${barW - 3}" height="${bh}" fill="${color(engine)}"/>`)
    })
    out.push(
      `<text x="${x0 + (engines.length * barW) / 2}" y="${top + h + 16}" text-anchor="middle">${esc(g.label)}</text>`,
    )
  })
  engines.forEach((e, i) => {
    const x = left + i * 90
    out.push(`<rect x="${x}" y="${height - 22}" width="12" height="12" fill="${color(e)}"/>`)
    out.push(`<text x="${x + 16}" y="${height - 12}">${esc(e)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** All timed queries, events per CPU-second per engine. */
export function overviewChart(reports: readonly QueryReport[], subtitle: string): string {
  const timed = reports.filter((r) => r.results.length > 0)
  return bars(
    `Nexmark: events per CPU-second (higher is better) — ${subtitle}`,
    timed.map((r) => ({
      label: r.query,
      values: r.results.map((e) => [e.engine, e.eventsPerCpuSecond] as [string, number]),
    })),
  )
}

/** One query: events per CPU-second and events per second (wall) per engine. */
export function queryChart(r: QueryReport, subtitle: string): string {
  return bars(`${r.query} ${r.title} — ${subtitle}`, [
    { label: 'events per CPU-s', values: r.results.map((e) => [e.engine, e.eventsPerCpuSecond] as [string, number]) },
    { label: 'events/s (wall)', values: r.results.map((e) => [e.engine, e.eventsPerSecond] as [string, number]) },
    {
      label: 'net of fixed cost',
      values: r.results.map((e) => [e.engine, e.netEventsPerCpuSecond] as [string, number]),
    },
  ])
}
