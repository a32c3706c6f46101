/**
 * Dead letters: the records a source or view could not use, filtered by object and reason (read
 * from sluice_catalog.dead_letters through POST /v1/sql with parameters), newest first, each with
 * its payload.
 */
import { isProblem, runSql, Unauthorized } from '../api.ts'
import { h, replace } from '../dom.ts'
import { needLogin } from '../poll.ts'
import type { Page } from '../types.ts'

const LIMIT = 200

export const deadLettersPage: Page = (main) => {
  const query = new URLSearchParams(location.search)
  const object = h('select', { id: 'dl-object' }, h('option', { value: '' }, 'all objects'))
  const reason = h('select', { id: 'dl-reason' }, h('option', { value: '' }, 'all reasons'))
  const list = h('section', { class: 'letters-list', 'aria-live': 'polite' })
  const load = async (): Promise<void> => {
    const o = object.value
    const r = reason.value
    const url = new URL(location.href)
    url.search = new URLSearchParams([...(o ? [['object', o]] : []), ...(r ? [['reason', r]] : [])]).toString()
    history.replaceState(null, '', url)
    const where: string[] = []
    const params: string[] = []
    if (o !== '') where.push(`object = $${params.push(o)}`)
    if (r !== '') where.push(`reason = $${params.push(r)}`)
    const answer = await runSql(
      `SELECT object, reason, detail, payload, received_at, origin FROM sluice_catalog.dead_letters${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY received_at DESC LIMIT ${LIMIT}`,
      params.length > 0 ? params : undefined,
    )
    if (isProblem(answer)) {
      replace(list, h('p', { class: 'error' }, h('code', {}, answer.code), ` ${answer.detail}`))
      return
    }
    const rows = answer.results[0]?.rows ?? []
    replace(
      list,
      h(
        'p',
        { class: 'muted' },
        `${rows.length} dead letter${rows.length === 1 ? '' : 's'}${rows.length === LIMIT ? ` (newest ${LIMIT})` : ''}`,
      ),
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
              ...['Received', 'Object', 'Reason', 'Detail', 'Payload'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            ...rows.map(([obj, why, detail, payload, at, origin]) =>
              h(
                'tr',
                {},
                h('td', {}, String(at)),
                h('td', {}, String(obj)),
                h('td', {}, String(why)),
                h(
                  'td',
                  {},
                  String(detail ?? ''),
                  origin === null ? null : h('div', { class: 'muted' }, String(origin)),
                ),
                h(
                  'td',
                  {},
                  h(
                    'details',
                    {},
                    h('summary', {}, String(payload ?? '').slice(0, 40) || '(empty)'),
                    h('pre', { class: 'payload' }, String(payload ?? '')),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    )
  }
  const guarded = (): void => {
    load().catch((e: unknown) => {
      if (e instanceof Unauthorized) needLogin()
    })
  }
  const fill = async (): Promise<void> => {
    const answer = await runSql('SELECT DISTINCT object, reason FROM sluice_catalog.dead_letters')
    if (isProblem(answer)) return
    const pairs = answer.results[0]?.rows ?? []
    const objects = [...new Set(pairs.map((p) => String(p[0])))].sort()
    const reasons = [...new Set(pairs.map((p) => String(p[1])))].sort()
    const want = { object: query.get('object') ?? '', reason: query.get('reason') ?? '' }
    for (const o of new Set([...objects, ...(want.object ? [want.object] : [])]))
      object.append(h('option', { value: o }, o))
    for (const r of new Set([...reasons, ...(want.reason ? [want.reason] : [])]))
      reason.append(h('option', { value: r }, r))
    object.value = want.object
    reason.value = want.reason
  }
  object.addEventListener('change', guarded)
  reason.addEventListener('change', guarded)
  replace(
    main,
    h('h1', {}, 'Dead letters'),
    h(
      'p',
      { class: 'toolbar filters' },
      h('label', { for: 'dl-object' }, 'Object '),
      object,
      ' ',
      h('label', { for: 'dl-reason' }, 'Reason '),
      reason,
      ' ',
      h('button', { type: 'button', onclick: guarded }, 'Refresh'),
    ),
    list,
  )
  fill()
    .then(load)
    .catch((e: unknown) => {
      if (e instanceof Unauthorized) needLogin()
    })
  return () => {}
}
