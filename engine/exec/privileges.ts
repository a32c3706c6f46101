/**
 * What a read-only session (a BI user's role) may run: queries and SUBSCRIBE, the catalog and
 * session commands, EXPLAIN. Everything that changes objects, rows or the engine's progress is
 * refused with 42501. FLUSH is refused too: it holds the engine's write lock while it waits for
 * sources, so a reader could delay every writer with it. The table is a Record over statement
 * kinds, so a new kind does not compile until someone decides.
 */
import type { Privilege, StatementBody } from '../sql/tree.ts'
import type { Engine } from '../engine.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { SCHEMA_TARGET } from '../catalog/access.ts'
import { secretRefName } from '../sql/secret-ref.ts'

const READ_ONLY_ALLOWED: Readonly<Record<StatementBody['kind'], boolean>> = {
  query: true,
  subscribe: true,
  show_objects: true,
  show_create: true,
  show_setting: true,
  describe: true,
  explain: true,
  set: true,
  reset_all: true,
  transaction: true,
  noop: true,
  flush: false,
  create_source: false,
  create_table: false,
  create_materialized_view: false,
  create_view: false,
  create_sink: false,
  create_index: false,
  drop_index: false,
  insert: false,
  update: false,
  delete: false,
  drop: false,
  alter_source_add_column: false,
  create_role: false,
  alter_role: false,
  drop_role: false,
  grant: false,
  create_secret: false,
  drop_secret: false,
  create_token: false,
  drop_token: false,
}

const WORD: Partial<Record<StatementBody['kind'], string>> = {
  flush: 'FLUSH',
  create_source: 'CREATE SOURCE',
  create_table: 'CREATE TABLE',
  create_materialized_view: 'CREATE MATERIALIZED VIEW',
  create_view: 'CREATE VIEW',
  create_sink: 'CREATE SINK',
  insert: 'INSERT',
  update: 'UPDATE',
  delete: 'DELETE',
  drop: 'DROP',
  alter_source_add_column: 'ALTER SOURCE',
}

/** Throws 42501 when a read-only session may not run `stmt`. */
export function checkReadOnly(stmt: StatementBody, user: string): void {
  if (READ_ONLY_ALLOWED[stmt.kind]) return
  throw new SluiceError(
    SqlState.insufficient_privilege,
    `permission denied: ${WORD[stmt.kind] ?? stmt.kind} is not allowed for the read-only user "${user}"`,
    {
      hint: 'Read-only users may run SELECT, SUBSCRIBE, SHOW, DESCRIBE, EXPLAIN and SET.',
    },
  )
}

// ---- Roles of the catalog (CREATE ROLE / GRANT): one model for pgwire, HTTP and the library ----

/**
 * Who runs a statement. A role of the catalog gets exactly its attributes and grants, whatever
 * the front end's auth mode (so under trust a role created in SQL is not an admin). A user that is
 * no role of the catalog keeps what its front end decided: read-only (the library's users map) or
 * superuser (the bootstrap user, an in-process session).
 */
export type Principal =
  { readonly kind: 'superuser' } | { readonly kind: 'readonly' } | { readonly kind: 'role'; readonly name: string }

export function principalOf(engine: Engine, user: string, readOnly: boolean): Principal {
  const role = engine.access.roles.get(user)
  if (role !== undefined) return role.superuser ? { kind: 'superuser' } : { kind: 'role', name: user }
  return readOnly ? { kind: 'readonly' } : { kind: 'superuser' }
}

const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['pg_catalog', 'information_schema', 'sluice_catalog'])

function denied(message: string, hint?: string): SluiceError {
  return new SluiceError(SqlState.insufficient_privilege, message, { hint })
}

/** Throws 42501 when the session's user may not run `stmt` (before it runs). */
export function checkPrivileges(engine: Engine, user: string, readOnly: boolean, stmt: StatementBody): void {
  // The catalog's replay at startup does not come here (exec/session.ts): client statements run
  // alongside it and are checked as always.
  const who = principalOf(engine, user, readOnly)
  if (who.kind === 'readonly') checkReadOnly(stmt, user)
  if (who.kind !== 'role') {
    // Even the read-only users of the library's map may not read secrets' names.
    if (who.kind === 'readonly') checkReads(engine, undefined, stmt)
    return
  }
  checkRole(engine, who.name, stmt)
}

function checkRole(engine: Engine, role: string, stmt: StatementBody): void {
  const access = engine.access
  const select = (name: string): void => need(engine, role, name, 'select')
  const create = (options?: ReadonlyMap<string, string>): void => {
    if (!access.holds(role, SCHEMA_TARGET, 'create'))
      throw denied('permission denied for schema public', 'A superuser can GRANT CREATE ON SCHEMA public TO the role.')
    for (const [key, value] of options ?? []) {
      if (secretRefName(value) !== undefined)
        throw denied(`permission denied to use a secret (option "${key}"): only a superuser may reference secrets`)
    }
  }
  const own = (name: string): void => {
    if (engine.get(name) !== undefined && !access.owns(role, name))
      throw denied(`must be owner of ${engine.get(name)?.kind.replace('_', ' ') ?? 'relation'} ${name}`)
  }
  switch (stmt.kind) {
    case 'query':
    case 'subscribe':
    case 'create_view':
    case 'create_materialized_view':
      if (stmt.kind === 'create_view' || stmt.kind === 'create_materialized_view') create()
      if (stmt.kind === 'subscribe' && stmt.name !== undefined) select(stmt.name)
      return checkReads(engine, role, stmt)
    case 'explain':
      return checkRole(engine, role, stmt.statement)
    case 'create_source':
    case 'create_table':
      return create(stmt.options)
    case 'create_sink':
      create(stmt.options)
      if (stmt.from !== undefined) select(stmt.from)
      return checkReads(engine, role, stmt)
    case 'insert':
      need(engine, role, stmt.table, 'insert')
      return checkReads(engine, role, stmt.source, stmt.table)
    case 'update':
      return need(engine, role, stmt.table, 'update')
    case 'delete':
      return need(engine, role, stmt.table, 'delete')
    case 'create_index':
      return own(stmt.relation)
    case 'drop':
      for (const name of stmt.names) own(name)
      return
    case 'drop_index':
      for (const name of stmt.names) {
        const index = engine.indexes.get(name)
        if (index !== undefined) own(index.relation)
      }
      return
    case 'alter_source_add_column':
      return own(stmt.source)
    case 'flush':
      // FLUSH holds the write lock while it waits: for roles that write, not for readers.
      if (!access.writes(role)) throw denied('permission denied for FLUSH', 'FLUSH is for roles that write or create.')
      return
    case 'grant':
      if (stmt.target.kind === 'objects' && stmt.target.names.every((n) => access.owns(role, n))) return
      throw denied('permission denied to grant or revoke', 'Only a superuser or the owner of an object may.')
    case 'alter_role':
      // Anyone may change their own password, nothing else about themselves.
      if (stmt.name === role && stmt.options.login === undefined && stmt.options.superuser === undefined) return
      throw denied(`permission denied to alter role "${stmt.name}"`, 'Only a superuser may.')
    case 'create_token':
      if (stmt.role === role && stmt.digest === undefined) return
      throw denied(`permission denied to create a token for role "${stmt.role}"`)
    case 'drop_token':
      if (access.tokens.get(stmt.id)?.role === role) return
      throw denied(`permission denied to drop token "${stmt.id}"`)
    case 'create_role':
    case 'drop_role':
    case 'create_secret':
    case 'drop_secret':
      throw denied(`permission denied for ${stmt.kind.replace('_', ' ').toUpperCase()}`, 'Only a superuser may.')
    case 'show_objects':
    case 'show_create':
    case 'show_setting':
    case 'set':
    case 'reset_all':
    case 'describe':
    case 'transaction':
    case 'noop':
      return
  }
}

function need(engine: Engine, role: string, name: string, privilege: Privilege): void {
  if (engine.access.holds(role, name, privilege)) return
  const obj = engine.get(name)
  // An unknown name is the binder's 42P01, not a hint that something exists.
  if (obj === undefined) return
  const word = obj.kind === 'materialized_view' ? 'materialized view' : obj.kind
  throw denied(
    `permission denied for ${word} ${name}`,
    `A superuser or the owner can GRANT ${privilege.toUpperCase()} ON ${name} TO ${role}.`,
  )
}

/**
 * SELECT on every relation a statement reads. The tree is walked generically for FROM items
 * (`kind: 'table'`), so a subquery anywhere (in WHERE, in a CTE, in a join) is covered; CTE names
 * and system catalogs are skipped. `role` undefined: only the superuser-only catalogs are checked.
 */
function checkReads(engine: Engine, role: string | undefined, node: unknown, except?: string): void {
  const refs: { schema: string | undefined; name: string }[] = []
  const ctes = new Set<string>()
  collect(node, refs, ctes)
  for (const r of refs) {
    if (r.schema === 'sluice_catalog' && r.name === 'secrets')
      throw denied('permission denied for table secrets', 'Only a superuser may list secrets.')
    if (role === undefined || r.name === except) continue
    if (r.schema !== undefined && (SYSTEM_SCHEMAS.has(r.schema) || r.schema !== 'public')) continue
    if (r.schema === undefined && ctes.has(r.name)) continue
    need(engine, role, r.name, 'select')
  }
}

function collect(node: unknown, refs: { schema: string | undefined; name: string }[], ctes: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collect(item, refs, ctes)
    return
  }
  if (node === null || typeof node !== 'object' || node instanceof Map) return
  const n = node as { kind?: unknown; name?: unknown; schema?: unknown; with?: unknown; position?: unknown }
  if (n.kind === 'table' && typeof n.name === 'string' && 'alias' in n)
    refs.push({ name: n.name, schema: typeof n.schema === 'string' ? n.schema : undefined })
  if (Array.isArray(n.with))
    for (const cte of n.with as { name?: unknown }[]) if (typeof cte.name === 'string') ctes.add(cte.name)
  for (const value of Object.values(node)) if (typeof value === 'object') collect(value, refs, ctes)
}

/** One privilege on one relation, for front ends that act without a statement (HTTP ingest, subscribe). */
export function checkRelationPrivilege(
  engine: Engine,
  user: string,
  readOnly: boolean,
  privilege: 'select' | 'insert',
  relation: string,
): void {
  const who = principalOf(engine, user, readOnly)
  if (who.kind === 'superuser') return
  if (who.kind === 'readonly') {
    if (privilege === 'select') return
    throw denied(`permission denied: INSERT is not allowed for the read-only user "${user}"`)
  }
  need(engine, who.name, relation, privilege)
}
