/**
 * The console's entry: routes by path (`/`, `/views/:name`, `/graph/:name`, `/sql`,
 * `/dead-letters`), follows same-origin links without reloading, and shows the login form when the
 * server asks for a token. No framework: each page is a function that draws into <main> and
 * returns what stops its timers and streams.
 */
import './style.css'
import { authorization, getJson, onConnection, setCredentials } from './api.ts'
import { h, replace } from './dom.ts'
import { deadLettersPage } from './pages/dead-letters.ts'
import { graphPage } from './pages/graph.ts'
import { overviewPage } from './pages/overview.ts'
import { sqlPage } from './pages/sql.ts'
import { viewPage } from './pages/view.ts'
import type { Page } from './types.ts'

const ROUTES: readonly [RegExp, Page, string][] = [
  [/^\/$/, overviewPage, 'overview'],
  [/^\/sql$/, sqlPage, 'sql'],
  [/^\/dead-letters$/, deadLettersPage, 'dead-letters'],
  [/^\/views\/([^/]+)$/, viewPage, 'view'],
  [/^\/graph\/([^/]+)$/, graphPage, 'graph'],
]

let stop: () => void = () => {}

function main(): HTMLElement {
  return document.getElementById('main') as HTMLElement
}

function route(): void {
  stop()
  stop = () => {}
  const path = location.pathname
  for (const [pattern, page, nav] of ROUTES) {
    const m = pattern.exec(path)
    if (m === null) continue
    const param = m[1] === undefined ? '' : decodeURIComponent(m[1])
    for (const a of document.querySelectorAll<HTMLAnchorElement>('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page')
      else a.removeAttribute('aria-current')
    }
    document.title = param === '' ? `Sluice · ${nav}` : `Sluice · ${param}`
    stop = page(main(), param)
    return
  }
  replace(main(), h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '/' }, 'Back to the overview')))
}

function login(): void {
  stop()
  stop = () => {}
  const token = h('input', { id: 'token', type: 'password', autocomplete: 'off' })
  const user = h('input', { id: 'user', type: 'text', autocomplete: 'username' })
  const password = h('input', { id: 'password', type: 'password', autocomplete: 'current-password' })
  const form = h(
    'form',
    { class: 'login', 'aria-label': 'Sign in' },
    h('h1', {}, 'Sign in'),
    h(
      'p',
      { role: 'alert' },
      authorization() === null
        ? 'This server needs credentials: a token, or a user and password.'
        : 'Those credentials were not accepted; try again.',
    ),
    h('label', { for: 'token' }, 'Token'),
    token,
    h('p', { class: 'muted' }, 'or'),
    h('label', { for: 'user' }, 'User'),
    user,
    h('label', { for: 'password' }, 'Password'),
    password,
    h('button', { type: 'submit' }, 'Sign in'),
  )
  form.addEventListener('submit', (e) => {
    e.preventDefault()
    setCredentials(
      token.value.trim() !== '' ? { token: token.value.trim() } : { user: user.value.trim(), password: password.value },
    )
    route()
    void showUser()
    void showUser()
  })
  replace(main(), form)
  token.focus()
}

/** The header says who the page acts as, and whether that user is read-only. */
async function showUser(): Promise<void> {
  const el = document.getElementById('who')
  if (el === null) return
  try {
    const me = await getJson<{ user: string; readOnly: boolean }>('/console/api/me')
    replace(
      el,
      `${me.user}${me.readOnly ? ' (read-only)' : ''}`,
      authorization() === null
        ? null
        : h(
            'button',
            { type: 'button', class: 'signout', onclick: () => (setCredentials(null), location.reload()) },
            'Sign out',
          ),
    )
    document.body.dataset.readOnly = String(me.readOnly)
  } catch {
    replace(el)
  }
}

function navigate(url: string): void {
  history.pushState(null, '', url)
  route()
  void showUser()
  main().focus({ preventScroll: true })
  window.scrollTo(0, 0)
}

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return
  const a = (e.target as Element | null)?.closest('a')
  if (a === null || a === undefined || a.target !== '' || a.origin !== location.origin) return
  // Links inside the SVG graph are SVGAElement, not HTMLAnchorElement: they reload, which is fine.
  if (a.pathname.startsWith('/console/') || a.pathname.startsWith('/v1/')) return
  e.preventDefault()
  navigate(a.pathname + a.search)
})
window.addEventListener('popstate', route)
window.addEventListener('sluice-unauthorized', login)

onConnection((ok, message) => {
  const el = document.getElementById('conn')
  if (el === null) return
  el.textContent = ok ? '● connected' : `○ ${message}`
  el.className = ok ? 'conn ok' : 'conn down'
})

route()
void showUser()
