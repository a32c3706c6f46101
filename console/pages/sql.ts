/**
 * The SQL console: statements run through POST /v1/sql with the page's token (a read-only token
 * gets the same refusal there as anywhere). Results are tables; an error shows its SQLSTATE, the
 * message and hint, and marks the position in the statement. "Explain stages" shows each EXPLAIN
 * form of the statement (bound, logical, optimized, stream, physical) side by side.
 */
import { getJson, isProblem, runSql, Unauthorized } from '../api.ts'
import type { Problem, SqlResult } from '../api.ts'
import { h, replace } from '../dom.ts'
import { needLogin } from '../poll.ts'
import type { Page } from '../types.ts'

const STAGES = ['BOUND', 'LOGICAL', 'OPTIMIZED', 'STREAM', 'PHYSICAL'] as const
const HISTORY_KEY = 'sluice-sql'

export const sqlPage: Page = (main) => {
  const editor = h('textarea', {
    id: 'sql',
    class: 'editor',
    rows: 8,
    spellcheck: 'false',
    'aria-label': 'SQL statements',
    placeholder: 'SELECT * FROM bids_per_channel',
  })
  editor.value = sessionStorage.getItem(HISTORY_KEY) ?? 'SHOW MATERIALIZED VIEWS'
  const output = h('section', { class: 'output', 'aria-live': 'polite', 'aria-label': 'Results' })
  const run = async (): Promise<void> => {
    const sql = editor.value
    sessionStorage.setItem(HISTORY_KEY, sql)
    replace(output, h('p', { class: 'muted' }, 'running…'))
    const answer = await runSql(sql)
    replace(
      output,
      ...(isProblem(answer)
        ? [...(answer.results ?? []).map(result), problem(answer, sql)]
        : answer.results.map(result)),
    )
  }
  const explain = async (): Promise<void> => {
    const sql = editor.value.trim().replace(/;+\s*$/, '')
    replace(output, h('p', { class: 'muted' }, 'explaining…'))
    const stages: HTMLElement[] = []
    for (const stage of STAGES) {
      const answer = await runSql(`EXPLAIN ${stage} ${sql}`)
      stages.push(
        h(
          'section',
          { class: 'stage', 'data-stage': stage },
          h('h3', {}, `EXPLAIN ${stage}`),
          isProblem(answer)
            ? problem(answer, `EXPLAIN ${stage} ${sql}`)
            : h('pre', {}, (answer.results[0]?.rows ?? []).map((r) => String(r[0])).join('\n')),
        ),
      )
    }
    replace(output, h('div', { class: 'stages' }, ...stages))
  }
  const guard = (f: () => Promise<void>) => () => {
    f().catch((e: unknown) => {
      if (e instanceof Unauthorized) needLogin()
      else
        replace(
          output,
          h(
            'p',
            { class: 'error', role: 'alert' },
            `the server did not answer: ${e instanceof Error ? e.message : String(e)}`,
          ),
        )
    })
  }
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault()
      guard(run)()
    }
  })
  const note = h('p', { class: 'readonly-note', role: 'note' })
  // A read-only user may still run queries and EXPLAIN; DDL and writes come back as errors.
  getJson<{ user: string; readOnly: boolean }>('/console/api/me')
    .then((me) => {
      if (me.readOnly)
        note.textContent = `Signed in as ${me.user}, read-only: queries run, statements that change anything are refused.`
    })
    .catch((e: unknown) => {
      // The SQL page asks for nothing else before a statement runs: sign in now.
      if (e instanceof Unauthorized) needLogin()
    })
  replace(
    main,
    h('h1', {}, 'SQL'),
    note,
    h('label', { for: 'sql' }, 'Statements (Ctrl+Enter runs them)'),
    editor,
    h(
      'p',
      { class: 'toolbar' },
      h('button', { type: 'button', id: 'run', onclick: guard(run) }, 'Run'),
      ' ',
      h('button', { type: 'button', id: 'explain', onclick: guard(explain) }, 'Explain stages'),
    ),
    output,
  )
  editor.focus()
  return () => {}
}

function result(r: SqlResult): HTMLElement {
  if (r.columns === undefined)
    return h('p', { class: 'tag' }, r.tag, ...(r.notices ?? []).map((n) => h('span', { class: 'notice' }, ` — ${n}`)))
  const cols = r.columns
  const rows = r.rows ?? []
  // EXPLAIN output reads best as text, with its indentation.
  if (cols.length === 1 && /^QUERY PLAN$/i.test(cols[0].name))
    return h('pre', { class: 'plan' }, rows.map((x) => String(x[0])).join('\n'))
  return h(
    'div',
    { class: 'result' },
    h('p', { class: 'tag' }, r.tag),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'rows' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ...cols.map((c) => h('th', { scope: 'col' }, c.name, h('span', { class: 'type' }, ` ${c.type}`))),
          ),
        ),
        h(
          'tbody',
          {},
          ...rows
            .slice(0, 1000)
            .map((row) =>
              h(
                'tr',
                {},
                ...row.map((v) =>
                  h('td', {}, v === null ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v)),
                ),
              ),
            ),
        ),
      ),
    ),
  )
}

/** The error with its SQLSTATE; with a position, the statement's line with a caret under it. */
function problem(p: Problem, sql: string): HTMLElement {
  const parts: HTMLElement[] = [
    h('p', {}, h('strong', {}, 'ERROR '), h('code', { class: 'sqlstate' }, p.code), ` ${p.detail}`),
  ]
  if (p.hint !== undefined) parts.push(h('p', { class: 'hint' }, `Hint: ${p.hint}`))
  if (p.position !== undefined && p.position > 0) {
    // position is 1-based over the whole text, in characters.
    const at = p.position - 1
    const lineStart = sql.lastIndexOf('\n', at - 1) + 1
    const lineEnd = sql.indexOf('\n', at)
    const line = sql.slice(lineStart, lineEnd < 0 ? undefined : lineEnd)
    const col = at - lineStart
    parts.push(
      h(
        'pre',
        { class: 'position', 'aria-label': `error at position ${p.position}` },
        line.slice(0, col),
        h('mark', {}, line.slice(col, col + 1) || ' '),
        line.slice(col + 1),
        '\n',
        `${' '.repeat(col)}^`,
      ),
    )
  }
  return h('div', { class: 'error', role: 'alert', 'data-sqlstate': p.code }, ...parts)
}
