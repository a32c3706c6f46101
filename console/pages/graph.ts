/**
 * The dataflow graph of a view or sink, drawn from its physical plan: the relations it reads at
 * the bottom, its operators above them, the views and sinks that read it at the top (fan-out);
 * each operator with rows in/out per second and its state entries. Also listed as a table, which
 * is what a keyboard or screen-reader user reads.
 */
import { getJson } from '../api.ts'
import { fmt, h, replace } from '../dom.ts'
import { poll } from '../poll.ts'
import type { Graph, GraphOperator, Page } from '../types.ts'

const SVG = 'http://www.w3.org/2000/svg'
const NODE_W = 190
const NODE_H = 58
const GAP_X = 24
const GAP_Y = 34

interface Box {
  readonly key: string
  readonly title: string
  readonly lines: readonly string[]
  readonly kind: 'operator' | 'relation' | 'downstream' | 'self'
  readonly href?: string
  x: number
  y: number
}

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: (Node | string)[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  for (const c of children) el.append(c)
  return el
}

/** Lays the graph out in rows: depth from the root gives the row, leaf order the column. */
function layout(g: Graph): { boxes: Box[]; edges: [string, string][]; width: number; height: number } {
  const byId = new Map(g.operators.map((o) => [o.id, o]))
  const depth = new Map<number, number>()
  let maxDepth = 0
  const walk = (o: GraphOperator, d: number): void => {
    depth.set(o.id, d)
    maxDepth = Math.max(maxDepth, d)
    for (const i of o.inputs) if ('operator' in i) walk(byId.get(i.operator) as GraphOperator, d + 1)
  }
  const root = byId.get(0)
  if (root !== undefined) walk(root, 0)
  const top = g.downstream.length > 0 ? 1 : 0
  const rows: Box[][] = Array.from({ length: maxDepth + 2 + top }, () => [])
  const boxes: Box[] = []
  const edges: [string, string][] = []
  const add = (row: number, b: Omit<Box, 'x' | 'y'>): void => {
    const box = { ...b, x: 0, y: 0 }
    rows[row].push(box)
    boxes.push(box)
  }
  for (const d of g.downstream) {
    add(0, {
      key: `down:${d.name}`,
      title: d.name,
      lines: [d.kind === 'sink' ? 'sink' : 'materialized view'],
      kind: 'downstream',
      href: `/graph/${encodeURIComponent(d.name)}`,
    })
    edges.push(['op:0', `down:${d.name}`])
  }
  const relations = new Set<string>()
  // Pre-order keeps siblings in plan order, so a join's left input is drawn on the left.
  for (const o of g.operators) {
    add((depth.get(o.id) ?? 0) + top, {
      key: `op:${o.id}`,
      title: o.name,
      lines: [
        o.detail.length > 28 ? `${o.detail.slice(0, 27)}…` : o.detail,
        `in ${fmt(o.rowsInPerSec)}/s · out ${fmt(o.rowsOutPerSec)}/s · state ${fmt(o.stateEntries)}`,
      ],
      kind: 'operator',
    })
    for (const i of o.inputs) {
      if ('operator' in i) edges.push([`op:${i.operator}`, `op:${o.id}`])
      else {
        if (!relations.has(i.relation)) {
          relations.add(i.relation)
          add(maxDepth + 1 + top, {
            key: `rel:${i.relation}`,
            title: i.relation,
            lines: ['shared stream'],
            kind: 'relation',
            href: `/graph/${encodeURIComponent(i.relation)}`,
          })
        }
        edges.push([`rel:${i.relation}`, `op:${o.id}`])
      }
    }
  }
  if (g.operators.length === 0) add(top, { key: 'op:0', title: g.name, lines: [g.kind], kind: 'self' })
  const widest = Math.max(1, ...rows.map((r) => r.length))
  const width = widest * (NODE_W + GAP_X) + GAP_X
  rows.forEach((row, r) => {
    const offset = (width - row.length * (NODE_W + GAP_X) + GAP_X) / 2
    row.forEach((b, i) => {
      b.x = offset + i * (NODE_W + GAP_X)
      b.y = GAP_Y / 2 + r * (NODE_H + GAP_Y)
    })
  })
  return { boxes, edges, width, height: rows.filter((r) => r.length > 0).length * (NODE_H + GAP_Y) + GAP_Y }
}

function draw(g: Graph): SVGSVGElement {
  const { boxes, edges, width, height } = layout(g)
  const at = new Map(boxes.map((b) => [b.key, b]))
  const root = svg('svg', {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': `dataflow of ${g.name}`,
    class: 'graph',
  })
  root.append(
    svg(
      'defs',
      {},
      svg(
        'marker',
        {
          id: 'arrow',
          viewBox: '0 0 10 10',
          refX: 10,
          refY: 5,
          markerWidth: 7,
          markerHeight: 7,
          orient: 'auto-start-reverse',
        },
        svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#64748b' }),
      ),
    ),
  )
  for (const [from, to] of edges) {
    const a = at.get(from)
    const b = at.get(to)
    if (a === undefined || b === undefined) continue
    // Data flows upward: from the bottom box's top edge to the upper box's bottom edge.
    const [lo, hi] = a.y > b.y ? [a, b] : [b, a]
    root.append(
      svg('path', {
        d: `M ${lo.x + NODE_W / 2} ${lo.y} C ${lo.x + NODE_W / 2} ${lo.y - GAP_Y / 2}, ${hi.x + NODE_W / 2} ${hi.y + NODE_H + GAP_Y / 2}, ${hi.x + NODE_W / 2} ${hi.y + NODE_H}`,
        class: 'edge',
        'marker-end': 'url(#arrow)',
      }),
    )
  }
  for (const b of boxes) {
    const group = svg(
      'g',
      { class: `node ${b.kind}`, 'data-node': b.title, transform: `translate(${b.x} ${b.y})` },
      svg('rect', { width: NODE_W, height: NODE_H, rx: 6 }),
      svg('text', { x: 10, y: 18, class: 'title' }, b.title),
      ...b.lines.map((l, i) => svg('text', { x: 10, y: 34 + i * 14, class: 'line' }, l)),
      svg('title', {}, [b.title, ...b.lines].join('\n')),
    )
    if (b.href !== undefined) {
      const link = svg('a', { href: b.href }, group)
      root.append(link)
    } else root.append(group)
  }
  return root
}

export const graphPage: Page = (main, name) => {
  const slot = h('div', { class: 'graph-wrap' })
  const tbody = h('tbody')
  const failure = h('div', { role: 'alert' })
  replace(
    main,
    h('h1', {}, 'Dataflow of ', h('code', {}, name)),
    h('p', { class: 'toolbar' }, h('a', { href: `/views/${encodeURIComponent(name)}` }, 'live rows')),
    failure,
    slot,
    h('h2', {}, 'Operators'),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'operators', 'aria-label': 'operators' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...[
              '#',
              'Operator',
              'Detail',
              'Inputs',
              'Rows in/s',
              'Rows out/s',
              'Rows in',
              'Rows out',
              'State entries',
            ].map((c) => h('th', { scope: 'col' }, c)),
          ),
        ),
        tbody,
      ),
    ),
  )
  const stop = poll(2000, async (signal) => {
    const g = await getJson<Graph>(`/console/api/graph/${encodeURIComponent(name)}`, signal).catch((e: unknown) => {
      if (typeof e === 'object' && e !== null && 'code' in e && 'detail' in e) {
        replace(failure, h('p', { class: 'error' }, h('code', {}, String(e.code)), ` ${String(e.detail)}`))
        return undefined
      }
      throw e
    })
    if (g === undefined) return
    replace(failure, g.failure === null ? null : h('p', { class: 'error' }, `stopped: ${g.failure}`))
    slot.replaceChildren(draw(g))
    tbody.replaceChildren(
      ...g.operators.map((o) =>
        h(
          'tr',
          { 'data-operator': o.name },
          h('td', {}, o.id),
          h('th', { scope: 'row' }, o.name),
          h('td', {}, h('code', {}, o.detail)),
          h('td', {}, o.inputs.map((i) => ('operator' in i ? `#${i.operator}` : i.relation)).join(', ')),
          h('td', {}, fmt(o.rowsInPerSec)),
          h('td', {}, fmt(o.rowsOutPerSec)),
          h('td', {}, fmt(o.rowsIn)),
          h('td', {}, fmt(o.rowsOut)),
          h('td', {}, fmt(o.stateEntries)),
        ),
      ),
    )
  })
  return stop
}
