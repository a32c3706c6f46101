/**
 * One log line per DDL statement (CREATE, DROP, ALTER of every kind): who ran it, what it was (the
 * command, the objects it names, its text with passwords masked), how long it took and how it
 * ended. Operators read these lines to answer "who dropped this view, and when".
 */
import type { Statement, StatementBody } from '../sql/tree.ts'
import type { Engine } from '../engine.ts'
import { toSluiceError } from '../errors.ts'

/** What a DDL statement does: the command as its tag reads, and the objects it names. */
export interface DdlSubject {
  readonly command: string
  readonly names: readonly string[]
}

const OBJECT_WORD = {
  source: 'SOURCE',
  table: 'TABLE',
  materialized_view: 'MATERIALIZED VIEW',
  view: 'VIEW',
  sink: 'SINK',
} as const

/** The DDL a statement is, or undefined for queries, DML, SET, SHOW and the like. */
export function ddlSubject(stmt: StatementBody): DdlSubject | undefined {
  switch (stmt.kind) {
    case 'create_source':
    case 'create_table':
    case 'create_materialized_view':
    case 'create_view':
    case 'create_sink':
      return { command: commandOf(stmt.kind), names: [stmt.name] }
    case 'create_index':
      return { command: 'CREATE INDEX', names: stmt.name === undefined ? [stmt.relation] : [stmt.name] }
    case 'drop':
      return { command: `DROP ${OBJECT_WORD[stmt.objectKind]}`, names: stmt.names }
    case 'drop_index':
      return { command: 'DROP INDEX', names: stmt.names }
    case 'alter_source_add_column':
      return { command: 'ALTER SOURCE', names: [stmt.source] }
    default:
      // Statement kinds added later (roles, grants, secrets...) are logged by their kind's words,
      // so no DDL goes unlogged because this switch was not updated.
      if (!/^(create|drop|alter|grant|revoke)(_|$)/.test(stmt.kind)) return undefined
      // GRANT and REVOKE share one kind, told apart by `revoke`.
      if ((stmt as { revoke?: unknown }).revoke === true) return { command: 'REVOKE', names: namesOf(stmt) }
      return { command: commandOf(stmt.kind), names: namesOf(stmt) }
  }
}

function commandOf(kind: string): string {
  return kind.replace(/_/g, ' ').toUpperCase()
}

/** The `name` / `names` (or a grant's `roles`) a statement kind not listed above carries, if any. */
function namesOf(stmt: object): readonly string[] {
  const { name, names, roles } = stmt as { name?: unknown; names?: unknown; roles?: unknown }
  if (typeof name === 'string') return [name]
  const list = Array.isArray(names) ? names : Array.isArray(roles) ? roles : []
  return list.filter((n): n is string => typeof n === 'string')
}

/**
 * A statement's text without the secret it carries: `CREATE SECRET s AS '...'` keeps its value in
 * a `value` field, whose literal (as written, quotes doubled) is masked wherever it appears.
 */
function withoutSecretValue(stmt: StatementBody, text: string): string {
  const { value } = stmt as { value?: unknown }
  if (!stmt.kind.includes('secret') || typeof value !== 'string' || value === '') return text
  return text.split(value.replace(/'/g, "''")).join('***').split(value).join('***')
}

/**
 * The statement text fit for a log: the password of every `scheme://user:password@host` URL and
 * every `PASSWORD '...'` literal replaced by `***` (logs travel further than the catalog does).
 */
export function redactSecrets(sql: string): string {
  return sql
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s'"]*:)[^@\s'"]*@/gi, '$1***@')
    .replace(/(\bpassword\s*(?:=\s*)?)'(?:[^']|'')*'/gi, "$1'***'")
}

/** The longest statement text a DDL log line carries; a CREATE with a huge query is cut there. */
const MAX_LOGGED_SQL = 4000

/**
 * Writes the line for one DDL statement that took `ms` milliseconds and ended with `error`
 * (undefined when it succeeded). Other statements are not logged. (The session that replays the
 * catalog at startup does not call this: it re-runs every CREATE, which nobody issued then.)
 */
export function logDdl(engine: Pick<Engine, 'log'>, user: string, stmt: Statement, ms: number, error: unknown): void {
  const subject = ddlSubject(stmt)
  if (subject === undefined) return
  const log = engine.log
  const text = redactSecrets(withoutSecretValue(stmt, stmt.text.trim()))
  const fields: Record<string, unknown> = {
    user,
    command: subject.command,
    objects: subject.names,
    ms: Math.round(ms * 10) / 10,
    sql: text.length > MAX_LOGGED_SQL ? `${text.slice(0, MAX_LOGGED_SQL)}...` : text,
  }
  const what = `${subject.command}${subject.names.length > 0 ? ` ${subject.names.join(', ')}` : ''}`
  if (error === undefined) {
    log('info', `${what} by ${user} in ${fields.ms} ms`, { ...fields, outcome: 'ok' })
    return
  }
  const e = toSluiceError(error)
  log('warn', `${what} by ${user} failed (${e.code}) in ${fields.ms} ms`, {
    ...fields,
    outcome: e.code,
    error: e.message,
  })
}
