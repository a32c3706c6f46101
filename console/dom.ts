/**
 * Small DOM helpers: `h` builds elements (text children are always text nodes, never HTML, so
 * names and payloads from the server cannot inject markup), and number formatting.
 */
type Child = Node | string | number | null | undefined | false
type Attrs = Record<string, string | number | boolean | undefined | ((e: Event) => void)>

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v)
    else if (v === true) el.setAttribute(k, '')
    else el.setAttribute(k, String(v))
  }
  append(el, children)
  return el
}

export function append(el: Node, children: readonly Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren()
  append(el, children)
}

/** 1234567 → "1.2M", 0.25 → "0.25"; null → "–". */
export function fmt(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || Number.isNaN(n)) return '–'
  const a = Math.abs(n)
  if (a >= 1e9) return `${(n / 1e9).toFixed(digits)}G`
  if (a >= 1e6) return `${(n / 1e6).toFixed(digits)}M`
  if (a >= 1e4) return `${(n / 1e3).toFixed(digits)}k`
  if (Number.isInteger(n)) return String(n)
  return a >= 100 ? n.toFixed(0) : n.toFixed(a >= 1 ? digits : 2)
}

/** Seconds as "3 s", "4 min", "2 h". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '–'
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`
  if (seconds < 3600) return `${(seconds / 60).toFixed(0)} min`
  return `${(seconds / 3600).toFixed(1)} h`
}

/** A state badge: colour for a glance, a symbol and the word for everyone else. */
export function badge(state: string): HTMLElement {
  const symbol =
    state === 'running' ? '●' : state === 'warning' ? '▲' : state === 'failing' ? '✖' : state === 'halted' ? '■' : '○'
  return h(
    'span',
    { class: `badge ${state}`, 'data-state': state },
    h('span', { 'aria-hidden': 'true' }, symbol),
    ' ',
    state,
  )
}
