/**
 * The overview: every object with its state, rates, lag and watermark delay; checkpoint health;
 * dead letters by reason; charts of events/s, lag and checkpoint duration. Problems are listed
 * first and their rows coloured, so a failing sink or growing lag stands out without reading.
 * Rows are kept per object and updated in place, so keyboard focus survives the refresh.
 */
import { getJson } from '../api.ts'
import { timeChart } from '../chart.ts'
import { badge, duration, fmt, h, replace } from '../dom.ts'
import { poll } from '../poll.ts'
import type { HistorySeries, Overview, OverviewObject, Page } from '../types.ts'

const KIND_LABEL: Record<OverviewObject['kind'], string> = {
  source: 'source',
  table: 'table',
  view: 'view',
  materialized_view: 'materialized view',
  sink: 'sink',
}

export const overviewPage: Page = (main) => {
  const problems = h('section', { class: 'problems', 'aria-label': 'Problems', 'aria-live': 'polite' })
  const checkpoint = h('section', { class: 'card checkpoint', 'aria-label': 'Checkpoints' })
  const letters = h('section', { class: 'card letters', 'aria-label': 'Dead letters' })
  const tbody = h('tbody')
  const table = h(
    'table',
    { class: 'objects', 'aria-label': 'Sources, tables, views and sinks' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...[
          'Object',
          'Kind',
          'State',
          'Events/s',
          'Rows',
          'State entries',
          'Lag per partition',
          'Watermark delay',
          'Sink commit',
          'Details',
        ].map((c) => h('th', { scope: 'col' }, c)),
      ),
    ),
    tbody,
  )
  const charts = {
    events: timeChart('Events/s per source', 'events/s'),
    lag: timeChart('Lag per source (records)', 'records'),
    checkpoint: timeChart('Checkpoint duration', 'ms'),
  }
  replace(
    main,
    h('h1', {}, 'Overview'),
    problems,
    h('div', { class: 'cards' }, checkpoint, letters),
    h('div', { class: 'table-wrap' }, table),
    h('h2', {}, 'Last 5 minutes'),
    h('div', { class: 'charts' }, charts.events.element, charts.lag.element, charts.checkpoint.element),
  )
  const rows = new Map<string, { tr: HTMLTableRowElement; cells: HTMLTableCellElement[]; key: string }>()

  const render = (o: Overview): void => {
    const bad = o.objects.filter((x) => x.state !== 'running')
    const items = bad.map((x) =>
      h(
        'li',
        { class: x.state },
        badge(x.state),
        ' ',
        h('strong', {}, x.name),
        ` (${KIND_LABEL[x.kind]}): ${x.problem ?? ''}`,
      ),
    )
    if (o.checkpoints.state !== 'running')
      items.unshift(
        h(
          'li',
          { class: o.checkpoints.state },
          badge(o.checkpoints.state),
          ' ',
          h('strong', {}, 'checkpoints'),
          `: ${o.checkpoints.problem ?? ''}`,
        ),
      )
    replace(
      problems,
      items.length === 0 ? h('p', { class: 'all-good' }, '✓ Everything is running.') : h('ul', {}, ...items),
    )

    const c = o.checkpoints
    replace(
      checkpoint,
      h('h2', {}, 'Checkpoints ', badge(c.state)),
      h(
        'dl',
        {},
        h('dt', {}, 'Last epoch'),
        h('dd', {}, fmt(c.lastEpoch)),
        h('dt', {}, 'Age'),
        h('dd', {}, duration(c.ageSeconds)),
        h('dt', {}, 'Duration'),
        h('dd', {}, c.lastDurationMs === null ? '–' : `${fmt(c.lastDurationMs)} ms`),
        h('dt', {}, 'Success rate'),
        h('dd', {}, c.successRate === null ? '–' : `${(c.successRate * 100).toFixed(0)} %`),
      ),
    )
    replace(
      letters,
      h('h2', {}, 'Dead letters'),
      o.deadLetters.length === 0
        ? h('p', { class: 'muted' }, 'none')
        : h(
            'ul',
            {},
            ...o.deadLetters.slice(0, 8).map((d) =>
              h(
                'li',
                {},
                h(
                  'a',
                  {
                    href: `/dead-letters?object=${encodeURIComponent(d.object)}&reason=${encodeURIComponent(d.reason)}`,
                  },
                  `${d.object}: ${d.reason}`,
                ),
                ` ${fmt(d.count)}`,
              ),
            ),
          ),
    )

    const seen = new Set<string>()
    for (const x of o.objects) {
      const id = `${x.kind}:${x.name}`
      seen.add(id)
      let row = rows.get(id)
      if (row === undefined) {
        const cells = Array.from({ length: 10 }, () => h('td'))
        const link =
          x.kind === 'materialized_view' || x.kind === 'table'
            ? h('a', { href: `/views/${encodeURIComponent(x.name)}` }, x.name)
            : h('span', {}, x.name)
        cells[0].append(link)
        cells[1].textContent = KIND_LABEL[x.kind]
        if (x.kind === 'materialized_view' || x.kind === 'sink' || x.kind === 'source' || x.kind === 'table')
          cells[9].append(
            h(
              'a',
              { href: `/graph/${encodeURIComponent(x.name)}`, 'aria-label': `dataflow graph of ${x.name}` },
              'graph',
            ),
          )
        const tr = h('tr', { 'data-object': x.name, 'data-kind': x.kind }, ...cells)
        row = { tr, cells, key: '' }
        rows.set(id, row)
      }
      row.tr.dataset.state = x.state
      row.tr.className = `state-${x.state}`
      const key = x.state + (x.problem ?? '')
      if (key !== row.key) {
        row.key = key
        replace(
          row.cells[2],
          badge(x.state),
          x.problem === null ? null : h('span', { class: 'problem-text' }, ` ${x.problem}`),
        )
      }
      row.cells[3].textContent = fmt(x.rate)
      row.cells[4].textContent = fmt(x.rows)
      row.cells[5].textContent = fmt(x.stateEntries)
      row.cells[6].replaceChildren(
        ...x.lag.map((p) =>
          h(
            'span',
            {
              class: p.paused ? 'lag paused' : 'lag',
              title: `${p.topic} partition ${p.partition ?? '?'}${p.paused ? ' (paused by backpressure)' : ''}`,
            },
            `p${p.partition ?? '?'}: ${fmt(p.lag)}`,
          ),
        ),
      )
      row.cells[7].textContent = x.watermarkDelay === null ? '–' : duration(x.watermarkDelay)
      row.cells[8].textContent =
        x.kind !== 'sink'
          ? ''
          : `${x.commitMs === null ? '–' : `${fmt(x.commitMs)} ms`} · epoch ${fmt(x.committedEpoch)}${x.pendingEpochs ? ` · ${x.pendingEpochs} pending` : ''}`
    }
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.tr.remove()
        rows.delete(id)
      }
    }
    // Problems first, then by kind and name; moving a row keeps its focus.
    const order = [...o.objects].sort(
      (a, b) => rank(a) - rank(b) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name),
    )
    order.forEach((x, i) => {
      const tr = rows.get(`${x.kind}:${x.name}`)?.tr
      if (tr !== undefined && tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null)
    })
  }

  const stopOverview = poll(2000, async (signal) => render(await getJson<Overview>('/console/api/overview', signal)))
  const stopCharts = poll(2000, async (signal) => {
    const hist = await getJson<HistorySeries>(
      '/console/api/history?prefix=events:,lag:,checkpoint_ms&seconds=300',
      signal,
    )
    const pick = (prefix: string) =>
      Object.entries(hist.series)
        .filter(([k]) => k.startsWith(prefix))
        .map(([k, values]) => ({ label: k.slice(prefix.length) || k, values }))
    charts.events.update(hist.t, pick('events:'))
    charts.lag.update(hist.t, pick('lag:'))
    charts.checkpoint.update(hist.t, pick('checkpoint_ms'))
  })
  return () => {
    stopOverview()
    stopCharts()
    for (const c of Object.values(charts)) c.destroy()
  }
}

function rank(o: OverviewObject): number {
  return o.state === 'failing' ? 0 : o.state === 'halted' ? 1 : o.state === 'warning' ? 2 : 3
}
