/**
 * Settings a client passes in its StartupMessage: PostgreSQL treats every parameter other than
 * the connection's identity as a setting (JDBC sends DateStyle, TimeZone, extra_float_digits),
 * and `options` may hold more as `-c name=value`. They are applied through the session with SET,
 * so the engine stays the one place that knows settings. One that fails becomes a notice rather
 * than a refused connection: BI tools send settings Sluice may not know.
 */
import type { Session } from '../../engine/session-api.ts'

/** Startup parameters that describe the connection rather than set anything. */
const IDENTITY = new Set([
  'user',
  'database',
  'application_name',
  'fallback_application_name',
  'replication',
  'client_encoding',
  'options',
])

/** Applies the settings in `params`; returns notices for the ones that could not be applied. */
export async function startupSettings(session: Session, params: ReadonlyMap<string, string>): Promise<string[]> {
  const settings: [string, string][] = []
  for (const [k, v] of params) if (!IDENTITY.has(k) && !k.startsWith('_pq_.')) settings.push([k, v])
  const options = params.get('options')
  if (options !== undefined) settings.push(...parseOptions(options))
  const notices: string[] = []
  for (const [name, value] of settings) {
    if (!/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name)) {
      notices.push(`startup parameter "${name}" ignored: not a setting name`)
      continue
    }
    try {
      await session.execute(`SET ${name} TO '${value.replaceAll("'", "''")}'`)
    } catch (e) {
      notices.push(`startup parameter "${name}" ignored: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  return notices
}

/**
 * Splits the `options` startup parameter the way PostgreSQL does: words separated by spaces,
 * a backslash escapes the next character; `-c name=value` and `--name=value` set things.
 */
export function parseOptions(options: string): [string, string][] {
  const words: string[] = []
  let word = ''
  let inWord = false
  for (let i = 0; i < options.length; i++) {
    const ch = options[i]
    if (ch === '\\' && i + 1 < options.length) {
      word += options[++i]
      inWord = true
    } else if (ch === ' ' || ch === '\t') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += ch
      inWord = true
    }
  }
  if (inWord) words.push(word)
  const out: [string, string][] = []
  for (let i = 0; i < words.length; i++) {
    let assignment: string | undefined
    if (words[i] === '-c' && i + 1 < words.length) assignment = words[++i]
    else if (words[i].startsWith('-c')) assignment = words[i].slice(2)
    else if (words[i].startsWith('--')) assignment = words[i].slice(2)
    const eq = assignment?.indexOf('=') ?? -1
    if (assignment !== undefined && eq > 0)
      out.push([assignment.slice(0, eq).replaceAll('-', '_'), assignment.slice(eq + 1)])
  }
  return out
}
