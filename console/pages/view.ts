/**
 * The live page of a view (or table, or source): its rows from SUBSCRIBE over SSE, updated in
 * place as changes arrive (a changed row flashes), sortable by any column, and — when the view has
 * a time column — a chart of a numeric column summed per time value (a tumbling window's counts
 * over time). The stream reconnects by itself after a server restart.
 */
import { follow, isProblem, runSql, Unauthorized } from '../api.ts'
import type { Change } from '../api.ts'
import { timeChart } from '../chart.ts'
import { h, replace } from '../dom.ts'
import { needLogin } from '../poll.ts'
import type { Page } from '../types.ts'

/** Rows drawn at most (the count says how many there are). */
const MAX_DRAWN = 500
const TIME_TYPES = /^(timestamp|timestamptz|date|timestamp with(out)? time zone)/
const NUMERIC_TYPES = /^(bigint|integer|smallint|real|double precision|numeric|int|float)/

interface Held {
  readonly row: Record<string, unknown>
  count: number
  /** When it last changed (ms), for the flash. */
  changed: number
}

export const viewPage: Page = (main, name) => {
  const status = h('span', { class: 'stream-status', role: 'status' }, 'connecting…')
  const count = h('span', { class: 'count' })
  const chartSlot = h('div', { class: 'charts' })
  const thead = h('thead')
  const tbody = h('tbody')
  const table = h('table', { class: 'rows', 'aria-label': `rows of ${name}` }, thead, tbody)
  const message = h('div', { class: 'message', role: 'alert' })
  replace(
    main,
    h('h1', {}, 'View ', h('code', {}, name)),
    h(
      'p',
      { class: 'toolbar' },
      status,
      ' · ',
      count,
      ' · ',
      h('a', { href: `/graph/${encodeURIComponent(name)}` }, 'dataflow graph'),
    ),
    message,
    chartSlot,
    h('div', { class: 'table-wrap' }, table),
  )
  const controller = new AbortController()
  let columns: { name: string; type: string }[] = []
  let sort: { column: string; descending: boolean } | undefined
  const held = new Map<string, Held>()
  // While a (re)connect's snapshot arrives, rows build up here and replace `held` at its end,
  // so a reconnect does not blank the table.
  let pending: Map<string, Held> | undefined
  let dirty = true
  let chart: ReturnType<typeof timeChart> | undefined
  let timeColumn: string | undefined
  let valueColumn: string | undefined

  const apply = (target: Map<string, Held>, changes: readonly Change[]): void => {
    const now = Date.now()
    for (const c of changes) {
      const key = JSON.stringify(c.row)
      const e = target.get(key)
      if (c.op === 'insert') {
        if (e === undefined) target.set(key, { row: c.row, count: 1, changed: now })
        else e.count++
      } else if (e !== undefined) {
        if (--e.count <= 0) target.delete(key)
      }
    }
    dirty = true
  }

  const drawHeader = (): void => {
    replace(
      thead,
      h(
        'tr',
        {},
        ...columns.map((c) => {
          const active = sort?.column === c.name
          return h(
            'th',
            { scope: 'col', 'aria-sort': active ? (sort?.descending === true ? 'descending' : 'ascending') : 'none' },
            h(
              'button',
              {
                type: 'button',
                class: 'sort',
                title: `sort by ${c.name}`,
                onclick: () => {
                  sort =
                    sort?.column === c.name
                      ? { column: c.name, descending: !sort.descending }
                      : { column: c.name, descending: false }
                  drawHeader()
                  dirty = true
                },
              },
              c.name,
              h('span', { class: 'type' }, ` ${c.type}`),
              active ? (sort?.descending === true ? ' ▼' : ' ▲') : '',
            ),
          )
        }),
      ),
    )
  }

  const draw = (): void => {
    if (!dirty) return
    dirty = false
    const list = [...held.values()]
    if (sort !== undefined) {
      const { column, descending } = sort
      list.sort((a, b) => compare(a.row[column], b.row[column]) * (descending ? -1 : 1))
    }
    const now = Date.now()
    const trs: HTMLTableRowElement[] = []
    for (const e of list.slice(0, MAX_DRAWN)) {
      for (let i = 0; i < e.count && trs.length < MAX_DRAWN; i++) {
        trs.push(
          h(
            'tr',
            { class: now - e.changed < 1500 ? 'flash' : undefined },
            ...columns.map((c) => h('td', {}, show(e.row[c.name]))),
          ),
        )
      }
    }
    tbody.replaceChildren(...trs)
    let total = 0
    for (const e of held.values()) total += e.count
    count.textContent = `${total} row${total === 1 ? '' : 's'}${total > MAX_DRAWN ? ` (first ${MAX_DRAWN} shown)` : ''}`
    if (chart !== undefined && timeColumn !== undefined && valueColumn !== undefined) {
      const sums = new Map<number, number>()
      for (const e of held.values()) {
        const t = Date.parse(
          String(e.row[timeColumn]).replace(' ', 'T') +
            (/[zZ]|[+-]\d\d(:?\d\d)?$/.test(String(e.row[timeColumn])) ? '' : 'Z'),
        )
        if (Number.isNaN(t)) continue
        sums.set(t, (sums.get(t) ?? 0) + Number(e.row[valueColumn] ?? 0) * e.count)
      }
      const ts = [...sums.keys()].sort((a, b) => a - b)
      chart.update(ts, [{ label: `sum(${valueColumn})`, values: ts.map((t) => sums.get(t) ?? null) }])
    }
  }
  const timer = window.setInterval(draw, 250)

  const start = async (): Promise<void> => {
    // The column names and types: from the view itself, so an empty view still has a header.
    const described = await runSql(`SELECT * FROM ${quoteIdent(name)} LIMIT 0`)
    if (isProblem(described)) {
      replace(message, h('p', { class: 'error' }, h('code', {}, described.code), ` ${described.detail}`))
      status.textContent = 'not available'
      return
    }
    columns = [...(described.results[0]?.columns ?? [])]
    drawHeader()
    timeColumn = columns.find((c) => TIME_TYPES.test(c.type))?.name
    valueColumn = columns.find((c) => NUMERIC_TYPES.test(c.type) && c.name !== timeColumn)?.name
    if (timeColumn !== undefined && valueColumn !== undefined) {
      chart = timeChart(`sum(${valueColumn}) by ${timeColumn}`, valueColumn)
      chartSlot.append(chart.element)
    }
    await follow(
      name,
      {
        begin: () => {
          pending = new Map()
        },
        changes: (batch) => apply(pending ?? held, batch),
        snapshotEnd: () => {
          if (pending !== undefined) {
            held.clear()
            for (const [k, v] of pending) held.set(k, v)
            pending = undefined
            dirty = true
          }
        },
        problem: (p) => {
          replace(message, h('p', { class: 'error' }, h('code', {}, p.code), ` ${p.detail}`))
          status.textContent = 'stopped'
        },
        status: (s) => {
          status.textContent = s === 'live' ? '● live' : 'reconnecting…'
          status.className = `stream-status ${s}`
        },
      },
      controller.signal,
    )
  }
  start().catch((e: unknown) => {
    if (e instanceof Unauthorized) needLogin()
  })
  return () => {
    controller.abort()
    window.clearInterval(timer)
    chart?.destroy()
  }
}

function quoteIdent(name: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(name) ? name : `"${name.replace(/"/g, '""')}"`
}

function show(v: unknown): string {
  if (v === null || v === undefined) return 'NULL'
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0
  if (a === null || a === undefined) return 1
  if (b === null || b === undefined) return -1
  if (typeof a === 'number' && typeof b === 'number') return a - b
  const na = Number(a)
  const nb = Number(b)
  if (
    typeof a === 'string' &&
    typeof b === 'string' &&
    a.trim() !== '' &&
    b.trim() !== '' &&
    !Number.isNaN(na) &&
    !Number.isNaN(nb)
  )
    return na - nb
  return String(a) < String(b) ? -1 : 1
}
