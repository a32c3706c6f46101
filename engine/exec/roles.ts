/**
 * CREATE/ALTER/DROP ROLE, GRANT/REVOKE, CREATE/DROP SECRET and CREATE/DROP TOKEN: they change
 * engine.access (catalog/access.ts) and persist the SQL that re-creates the result. A role's
 * record holds its SCRAM verifier, never the clear password; the grants on one target live in one
 * record that is rewritten under a fresh id at each change, so at a restart it replays after every
 * role and object it names (the catalog replays in id order).
 */
import { createHash, randomBytes } from 'node:crypto'
import type { EngineSession } from './session.ts'
import type { Engine } from '../engine.ts'
import type { StatementResult } from '../session-api.ts'
import type { Privilege, RoleOptions, RoleStatement, StatementBody } from '../sql/tree.ts'
import type { StoredObject } from '../catalog/catalog-store.ts'
import type { RoleInfo } from '../catalog/access.ts'
import { SCHEMA_TARGET, quoteIdent, quoteLiteral } from '../catalog/access.ts'
import { catalogDelete, catalogPut } from '../catalog/catalog-store.ts'
import { formatVerifier, makeVerifier, parseVerifier } from '../util/scram.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { T } from '../types/datatype.ts'

/** The superuser the server starts with (`--password` sets its password); never a catalog role. */
export const BOOTSTRAP_USER = 'sluice'

const OBJECT_PRIVILEGES: readonly Privilege[] = ['select', 'insert', 'update', 'delete']

export async function executeRoleStatement(session: EngineSession, s: RoleStatement): Promise<StatementResult> {
  const engine = session.engine
  switch (s.kind) {
    case 'create_role':
      return createRole(engine, s.name, s.options, s.user)
    case 'alter_role':
      return alterRole(engine, s.name, s.options)
    case 'drop_role':
      return dropRoles(session, s.names, s.ifExists)
    case 'grant':
      return grant(engine, s)
    case 'create_secret':
      return createSecret(engine, s.name, s.value, s.orReplace)
    case 'drop_secret':
      return dropSecrets(engine, s.names, s.ifExists)
    case 'create_token':
      return createToken(engine, s.role, s.id, s.digest)
    case 'drop_token':
      return dropToken(engine, s.id, s.ifExists)
  }
}

function restoring(engine: Engine): boolean {
  return engine.restoringId !== undefined
}

async function put(engine: Engine, obj: StoredObject): Promise<void> {
  if (!restoring(engine)) await engine.store.write([catalogPut(obj)])
}

function undefinedRole(name: string): SluiceError {
  return new SluiceError(SqlState.undefined_object, `role "${name}" does not exist`)
}

function roleOf(engine: Engine, name: string): RoleInfo {
  const role = engine.access.roles.get(name)
  if (role === undefined) throw undefinedRole(name)
  return role
}

/** A clear password becomes a verifier; a verifier (a restart, or a PostgreSQL dump) is kept. */
function verifierOf(password: string | null | undefined, current: string | undefined): string | undefined {
  if (password === undefined) return current
  if (password === null || password === '') return undefined
  return parseVerifier(password) !== undefined ? password : formatVerifier(makeVerifier(password))
}

function roleSql(r: RoleInfo): string {
  const parts = [`CREATE ROLE ${quoteIdent(r.name)}`, r.login ? 'LOGIN' : 'NOLOGIN']
  if (r.superuser) parts.push('SUPERUSER')
  if (r.verifier !== undefined) parts.push(`PASSWORD ${quoteLiteral(r.verifier)}`)
  return parts.join(' ')
}

async function createRole(engine: Engine, name: string, o: RoleOptions, user: boolean): Promise<StatementResult> {
  // `sluice` is the bootstrap superuser: it exists without a record (catalog/access.ts).
  if (engine.access.roles.has(name) || name === BOOTSTRAP_USER)
    throw new SluiceError(SqlState.duplicate_object, `role "${name}" already exists`)
  const role: RoleInfo = {
    id: engine.allocateId(),
    oid: engine.access.allocateOid(),
    name,
    login: o.login ?? user,
    superuser: o.superuser ?? false,
    verifier: verifierOf(o.password, undefined),
  }
  await put(engine, { id: role.id, kind: 'role', name, sql: roleSql(role) })
  engine.access.roles.set(name, role)
  return { tag: 'CREATE ROLE' }
}

async function alterRole(engine: Engine, name: string, o: RoleOptions): Promise<StatementResult> {
  const old = roleOf(engine, name)
  const role: RoleInfo = {
    ...old,
    login: o.login ?? old.login,
    superuser: o.superuser ?? old.superuser,
    verifier: verifierOf(o.password, old.verifier),
  }
  await put(engine, { id: role.id, kind: 'role', name, sql: roleSql(role) })
  engine.access.roles.set(name, role)
  return { tag: 'ALTER ROLE' }
}

async function dropRoles(
  session: EngineSession,
  names: readonly string[],
  ifExists: boolean,
): Promise<StatementResult> {
  const engine = session.engine
  const access = engine.access
  const notices: string[] = []
  // All or nothing: every name is checked before the first role goes.
  for (const name of names) {
    if (!ifExists && !access.roles.has(name)) throw undefinedRole(name)
    if (name === session.user && access.roles.has(name))
      throw new SluiceError(SqlState.object_in_use, 'current user cannot be dropped')
  }
  for (const name of names) {
    const role = access.roles.get(name)
    if (role === undefined) {
      notices.push(`role "${name}" does not exist, skipping`)
      continue
    }
    // Its grants and tokens go with it (PostgreSQL would refuse until they are revoked: Sluice has
    // no REASSIGN OWNED / DROP OWNED, so this is the one way to clean up).
    const writes = [catalogDelete(role.id)]
    for (const [tokenId, t] of access.tokens) {
      if (t.role !== name) continue
      access.tokens.delete(tokenId)
      writes.push(catalogDelete(t.id))
    }
    access.roles.delete(name)
    await engine.store.write(writes)
    for (const [target, perRole] of access.acls) {
      if (perRole.delete(name)) await persistAcl(engine, target)
    }
  }
  return { tag: 'DROP ROLE', notices }
}

/** The GRANT statements that re-create `target`'s privileges ('' when none are left). */
function aclSql(engine: Engine, target: string): string {
  const perRole = engine.access.acls.get(target)
  if (perRole === undefined) return ''
  const on = target === SCHEMA_TARGET ? 'SCHEMA public' : quoteIdent(target)
  const out: string[] = []
  for (const [role, acl] of perRole) {
    if (acl.privileges.size === 0) continue
    const privileges = [...acl.privileges].sort().map((p) => p.toUpperCase())
    out.push(
      `GRANT ${privileges.join(', ')} ON ${on} TO ${quoteIdent(role)}${acl.grantOption ? ' WITH GRANT OPTION' : ''}`,
    )
  }
  return out.join('; ')
}

/** Rewrites the record of `target`'s grants under a fresh id (so it replays after its roles). */
export async function persistAcl(engine: Engine, target: string): Promise<void> {
  const access = engine.access
  const sql = aclSql(engine, target)
  if (engine.restoringId !== undefined) {
    if (sql !== '') access.aclIds.set(target, engine.restoringId)
    return
  }
  const old = access.aclIds.get(target)
  const writes = old === undefined ? [] : [catalogDelete(old)]
  if (sql === '') {
    access.aclIds.delete(target)
    access.acls.delete(target)
  } else {
    const id = engine.allocateId()
    access.aclIds.set(target, id)
    writes.push(catalogPut({ id, kind: 'grant', name: target, sql }))
  }
  if (writes.length > 0) await engine.store.write(writes)
}

async function grant(engine: Engine, s: Extract<RoleStatement, { kind: 'grant' }>): Promise<StatementResult> {
  const access = engine.access
  for (const r of s.roles) roleOf(engine, r)
  let targets: string[]
  if (s.target.kind === 'schema') targets = [SCHEMA_TARGET]
  else if (s.target.kind === 'all_in_schema') {
    if (s.target.schema !== 'public')
      throw new SluiceError(SqlState.undefined_object, `schema "${s.target.schema}" does not exist`)
    targets = [...engine.objects.values()].filter((o) => o.kind !== 'sink').map((o) => o.name)
  } else {
    targets = []
    for (const name of s.target.names) {
      if (engine.get(name) !== undefined) targets.push(name)
      // A restart replays grants after their object; one that could not be restored has none.
      else if (!restoring(engine)) throw new SluiceError(SqlState.undefined_table, `relation "${name}" does not exist`)
    }
  }
  const privileges = s.privileges ?? (s.target.kind === 'schema' ? ['create' as const] : OBJECT_PRIVILEGES)
  for (const target of targets) {
    let perRole = access.acls.get(target)
    if (perRole === undefined) access.acls.set(target, (perRole = new Map()))
    for (const role of s.roles) {
      let acl = perRole.get(role)
      if (acl === undefined) perRole.set(role, (acl = { privileges: new Set(), grantOption: false }))
      if (!s.revoke) {
        for (const p of privileges) acl.privileges.add(p)
        if (s.grantOption) acl.grantOption = true
      } else if (s.grantOption) {
        acl.grantOption = false // REVOKE GRANT OPTION FOR ...
      } else {
        for (const p of privileges) acl.privileges.delete(p)
        if (acl.privileges.size === 0) acl.grantOption = false
      }
      if (acl.privileges.size === 0) perRole.delete(role)
    }
    await persistAcl(engine, target)
  }
  return { tag: s.revoke ? 'REVOKE' : 'GRANT' }
}

/** The creator of an object holds everything on it, with the grant option (as PostgreSQL's owner). */
export async function grantOwnership(engine: Engine, role: string, object: string): Promise<void> {
  if (engine.get(object) === undefined) return
  const perRole = new Map([[role, { privileges: new Set<Privilege>(OBJECT_PRIVILEGES), grantOption: true }]])
  engine.access.acls.set(object, perRole)
  await persistAcl(engine, object)
}

async function createSecret(engine: Engine, name: string, value: string, orReplace: boolean): Promise<StatementResult> {
  const old = engine.access.secrets.get(name)
  if (old !== undefined && !orReplace)
    throw new SluiceError(SqlState.duplicate_object, `secret "${name}" already exists`)
  const id = old?.id ?? engine.allocateId()
  await put(engine, { id, kind: 'secret', name, sql: `CREATE SECRET ${quoteIdent(name)} AS ${quoteLiteral(value)}` })
  engine.access.secrets.set(name, { id, value })
  return { tag: old === undefined ? 'CREATE SECRET' : 'ALTER SECRET' }
}

async function dropSecrets(engine: Engine, names: readonly string[], ifExists: boolean): Promise<StatementResult> {
  const notices: string[] = []
  for (const name of names) {
    const secret = engine.access.secrets.get(name)
    if (secret === undefined) {
      if (!ifExists) throw new SluiceError(SqlState.undefined_object, `secret "${name}" does not exist`)
      notices.push(`secret "${name}" does not exist, skipping`)
      continue
    }
    const users = [...engine.objects.values()].filter((o) => referencesSecret(o.sql, name)).map((o) => o.name)
    if (users.length > 0)
      throw new SluiceError(
        SqlState.dependent_objects_still_exist,
        `cannot drop secret "${name}": ${users.join(', ')} use it`,
        {
          hint: 'Drop the sources and sinks that use it first.',
        },
      )
    engine.access.secrets.delete(name)
    await engine.store.write([catalogDelete(secret.id)])
  }
  return { tag: 'DROP SECRET', notices }
}

/** Whether a CREATE statement's options name the secret (`key = SECRET name`). */
export function referencesSecret(sql: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`=\\s*secret\\s+("${escaped}"|${escaped}\\b)`, 'i').test(sql)
}

async function createToken(
  engine: Engine,
  role: string,
  storedId: string | undefined,
  storedDigest: string | undefined,
): Promise<StatementResult> {
  roleOf(engine, role)
  const id = engine.allocateId()
  let tokenId = storedId
  let digest = storedDigest
  let token: string | undefined
  if (tokenId === undefined || digest === undefined) {
    tokenId = randomBytes(6).toString('hex')
    token = `sluice_${tokenId}_${randomBytes(24).toString('base64url')}`
    digest = tokenDigest(token)
  }
  if (engine.access.tokens.has(tokenId))
    throw new SluiceError(SqlState.duplicate_object, `token "${tokenId}" already exists`)
  await put(engine, {
    id,
    kind: 'token',
    name: tokenId,
    sql: `CREATE TOKEN FOR ${quoteIdent(role)} ID ${quoteLiteral(tokenId)} DIGEST ${quoteLiteral(digest)}`,
  })
  engine.access.tokens.set(tokenId, { id, tokenId, role, digest })
  if (token === undefined) return { tag: 'CREATE TOKEN' }
  // The token is shown once, here; the catalog keeps only its digest.
  return {
    tag: 'CREATE TOKEN',
    columns: [
      { name: 'token_id', type: T.text },
      { name: 'token', type: T.text },
    ],
    rows: [[tokenId, token]],
  }
}

async function dropToken(engine: Engine, tokenId: string, ifExists: boolean): Promise<StatementResult> {
  const t = engine.access.tokens.get(tokenId)
  if (t === undefined) {
    if (ifExists) return { tag: 'DROP TOKEN', notices: [`token "${tokenId}" does not exist, skipping`] }
    throw new SluiceError(SqlState.undefined_object, `token "${tokenId}" does not exist`)
  }
  engine.access.tokens.delete(tokenId)
  await engine.store.write([catalogDelete(t.id)])
  return { tag: 'DROP TOKEN' }
}

/** SHA-256 of a bearer token, hex: what the catalog keeps and what a request is matched by. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** After a role (not a superuser) created an object: it becomes the object's owner. */
export async function recordOwner(engine: Engine, user: string, stmt: StatementBody): Promise<void> {
  if (engine.restoringId !== undefined) return
  const role = engine.access.roles.get(user)
  if (role === undefined || role.superuser) return
  switch (stmt.kind) {
    case 'create_source':
    case 'create_table':
    case 'create_materialized_view':
    case 'create_view':
    case 'create_sink':
      return grantOwnership(engine, user, stmt.name)
    default:
      return
  }
}
