/**
 * Roles, grants, secrets and tokens → Sluice's tree. CREATE/ALTER/DROP ROLE (and USER), GRANT and
 * REVOKE come from PostgreSQL's own grammar; `CREATE SECRET name AS '...'` (as RisingWave and
 * Materialize spell it), `ALTER SECRET`, `DROP SECRET`, `CREATE TOKEN FOR role` and `DROP TOKEN
 * 'id'` are Sluice-only and recognised by the front door from their leading words.
 */
import type { PgNode } from './pg-node.ts'
import type { Converter } from './convert.ts'
import type { Token } from './lexer.ts'
import type { GrantTarget, Privilege, RoleOptions, StatementBody } from './tree.ts'
import { field, list, str, unwrap } from './pg-node.ts'
import { words } from './lexer.ts'
import { SluiceError, SqlState } from '../errors.ts'

const PRIVILEGES: ReadonlySet<string> = new Set(['select', 'insert', 'update', 'delete', 'create'])

function roleOptions(items: PgNode[], c: Converter): RoleOptions {
  let out: { login?: boolean; superuser?: boolean; password?: string | null } = {}
  for (const item of items) {
    const d = field(item, 'DefElem')
    const name = d.defname as string
    const arg = d.arg as PgNode | undefined
    const flag = (): boolean => (arg === undefined ? true : unwrap(arg)[1].boolval === true)
    if (name === 'canlogin') out = { ...out, login: flag() }
    else if (name === 'superuser') out = { ...out, superuser: flag() }
    else if (name === 'password') out = { ...out, password: arg === undefined ? null : (unwrap(arg)[1].sval as string) }
    // Attributes with no meaning in Sluice, accepted so PostgreSQL scripts run unchanged.
    else if (name === 'inherit' || name === 'connectionlimit' || name === 'validUntil') continue
    else c.unsupported(`the role attribute ${name.toUpperCase()}`, d.location)
  }
  return out
}

function roleName(spec: PgNode, c: Converter): string {
  // ALTER ROLE carries the RoleSpec's fields bare; lists of roles wrap each one.
  const r = 'RoleSpec' in spec ? field(spec, 'RoleSpec') : spec
  if (r.roletype !== 'ROLESPEC_CSTRING')
    return c.unsupported('CURRENT_USER, SESSION_USER or PUBLIC as a role name', r.location)
  return r.rolename as string
}

/** CreateRoleStmt, AlterRoleStmt, DropRoleStmt and GrantStmt; undefined for other kinds. */
export function roleStatement(kind: string, s: PgNode, c: Converter): StatementBody | undefined {
  switch (kind) {
    case 'CreateRoleStmt': {
      if (s.stmt_type === 'ROLESTMT_GROUP') return c.unsupported('CREATE GROUP')
      const user = s.stmt_type === 'ROLESTMT_USER'
      return { kind: 'create_role', name: s.role as string, options: roleOptions(list(s.options), c), user }
    }
    case 'AlterRoleStmt':
      return { kind: 'alter_role', name: roleName(s.role as PgNode, c), options: roleOptions(list(s.options), c) }
    case 'DropRoleStmt':
      return { kind: 'drop_role', names: list(s.roles).map((r) => roleName(r, c)), ifExists: s.missing_ok === true }
    case 'GrantStmt':
      return grant(s, c)
    default:
      return undefined
  }
}

function grant(s: PgNode, c: Converter): StatementBody {
  const objtype = s.objtype as string
  const names = list(s.objects)
  let target: GrantTarget
  if (s.targtype === 'ACL_TARGET_ALL_IN_SCHEMA') {
    if (objtype !== 'OBJECT_TABLE') return c.unsupported(`GRANT ON ALL ${objtype.replace('OBJECT_', '')}S IN SCHEMA`)
    target = { kind: 'all_in_schema', schema: str(names[0]) }
  } else if (s.targtype !== 'ACL_TARGET_OBJECT') {
    return c.unsupported('ALTER DEFAULT PRIVILEGES')
  } else if (objtype === 'OBJECT_SCHEMA') {
    target = { kind: 'schema', schema: str(names[0]) }
  } else if (objtype === 'OBJECT_TABLE') {
    target = {
      kind: 'objects',
      names: names.map((n) => {
        const rv = field(n, 'RangeVar')
        const schema = rv.schemaname as string | undefined
        return schema === undefined || schema === 'public'
          ? (rv.relname as string)
          : `${schema}.${rv.relname as string}`
      }),
    }
  } else {
    return c.unsupported(`GRANT ON ${objtype.replace('OBJECT_', '')}`)
  }
  let privileges: Privilege[] | undefined
  if (s.privileges !== undefined) {
    privileges = list(s.privileges).map((p) => {
      const ap = field(p, 'AccessPriv')
      const name = ap.priv_name as string
      if (ap.cols !== undefined) return c.unsupported('column privileges')
      if (!PRIVILEGES.has(name)) return c.unsupported(`the privilege ${name.toUpperCase()}`)
      return name as Privilege
    })
  }
  const onSchema = target.kind === 'schema'
  for (const p of privileges ?? []) {
    if ((p === 'create') !== onSchema)
      throw new SluiceError(
        SqlState.invalid_grant_operation,
        onSchema ? `privilege ${p.toUpperCase()} does not apply to a schema` : 'privilege CREATE applies to a schema',
        { hint: 'GRANT CREATE ON SCHEMA public TO role; GRANT SELECT, INSERT, UPDATE, DELETE ON relation TO role' },
      )
  }
  if (target.kind !== 'objects' && target.schema !== 'public')
    return c.unsupported(`schema ${target.schema} (Sluice has the schema public)`)
  return {
    kind: 'grant',
    revoke: s.is_grant !== true,
    privileges: onSchema && privileges === undefined ? ['create'] : privileges,
    target,
    roles: list(s.grantees).map((g) => roleName(g, c)),
    grantOption: s.grant_option === true,
  }
}

// ---- Sluice-only: secrets and tokens ----

function syntaxError(text: string, tokens: readonly Token[], i: number, base: number): SluiceError {
  const t = tokens[i]
  return new SluiceError(
    SqlState.syntax_error,
    t === undefined ? 'syntax error at end of input' : `syntax error at or near "${text.slice(t.start, t.end)}"`,
    { position: base + (t?.start ?? text.length) + 1 },
  )
}

function identAt(text: string, tokens: readonly Token[], i: number, base: number): string {
  const t = tokens[i]
  if (t === undefined || (t.type !== 'word' && t.type !== 'quoted')) throw syntaxError(text, tokens, i, base)
  return t.value
}

function expectEnd(text: string, tokens: readonly Token[], i: number, base: number): void {
  if (i < tokens.length) throw syntaxError(text, tokens, i, base)
}

/** `CREATE [OR REPLACE] SECRET name AS 'value'`, `ALTER SECRET name AS 'value'`. */
export function createSecret(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const alter = tokens[0].value === 'alter'
  const orReplace = alter || words(tokens, 1, 2) === 'or replace'
  let i = orReplace && !alter ? 4 : 2
  const name = identAt(text, tokens, i++, base)
  if (tokens[i]?.value !== 'as') throw syntaxError(text, tokens, i, base)
  const value = tokens[++i]
  if (value?.type !== 'string') throw syntaxError(text, tokens, i, base)
  expectEnd(text, tokens, i + 1, base)
  return { kind: 'create_secret', name, value: value.value, orReplace }
}

/** `DROP SECRET [IF EXISTS] name, ...` */
export function dropSecret(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let i = 2
  const ifExists = words(tokens, 2, 2) === 'if exists'
  if (ifExists) i = 4
  const names = [identAt(text, tokens, i++, base)]
  while (tokens[i]?.value === ',') {
    names.push(identAt(text, tokens, i + 1, base))
    i += 2
  }
  expectEnd(text, tokens, i, base)
  return { kind: 'drop_secret', names, ifExists }
}

/** `CREATE TOKEN FOR role` (the catalog replays it as `... ID 'id' DIGEST 'hex'`). */
export function createToken(text: string, base: number, tokens: readonly Token[]): StatementBody {
  if (tokens[2]?.value !== 'for') throw syntaxError(text, tokens, 2, base)
  const role = identAt(text, tokens, 3, base)
  let i = 4
  let id: string | undefined
  let digest: string | undefined
  while (i < tokens.length) {
    const word = tokens[i].value
    const value = tokens[i + 1]
    if ((word !== 'id' && word !== 'digest') || value?.type !== 'string') throw syntaxError(text, tokens, i, base)
    if (word === 'id') id = value.value
    else digest = value.value
    i += 2
  }
  if ((id === undefined) !== (digest === undefined)) throw syntaxError(text, tokens, i, base)
  return { kind: 'create_token', role, id, digest }
}

/** `DROP TOKEN [IF EXISTS] 'id'` */
export function dropToken(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const ifExists = words(tokens, 2, 2) === 'if exists'
  const i = ifExists ? 4 : 2
  const id = tokens[i]
  if (id?.type !== 'string') throw syntaxError(text, tokens, i, base)
  expectEnd(text, tokens, i + 1, base)
  return { kind: 'drop_token', id: id.value, ifExists }
}
