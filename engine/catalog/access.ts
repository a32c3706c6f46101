/**
 * Who may do what: roles (with their SCRAM verifiers, never a clear password), the privileges
 * granted on relations and on the schema, secrets and the HTTP tokens of roles. Like every
 * catalog object they persist as SQL that re-creates them (engine/exec/roles.ts writes it), so
 * a restart replays `CREATE ROLE x LOGIN PASSWORD 'SCRAM-SHA-256$4096:...'`, `GRANT ...`,
 * `CREATE SECRET ...` in id order after the objects they name.
 *
 * The bootstrap superuser (the server's `--user`, `sluice` by default) is not stored here: it
 * comes from the command line or the library's users map, and a session whose user is not a
 * role of this catalog keeps the rights its front end gave it (docs/operations.md).
 */
import type { Privilege } from '../sql/tree.ts'

export interface RoleInfo {
  /** The catalog record holding its CREATE ROLE. */
  readonly id: number
  readonly name: string
  readonly login: boolean
  readonly superuser: boolean
  /** `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, or undefined: no password. */
  readonly verifier: string | undefined
  /** Assigned once, so pg_roles.oid stays stable while the role is altered. */
  readonly oid: number
}

/** What one role holds on one target. */
export interface Acl {
  readonly privileges: Set<Privilege>
  /** WITH GRANT OPTION: the holder may grant on, drop and alter the object (its owner has it). */
  grantOption: boolean
}

export interface TokenInfo {
  readonly id: number
  /** Public part of the token, `DROP TOKEN 'tokenId'` names it. */
  readonly tokenId: string
  readonly role: string
  /** SHA-256 of the whole token, hex. */
  readonly digest: string
}

/** The ACL key of the schema (CREATE); objects use their own name, which never starts with '#'. */
export const SCHEMA_TARGET = '#schema:public'

export class AccessControl {
  readonly roles = new Map<string, RoleInfo>()
  /** Target (object name or SCHEMA_TARGET) → role → what it holds. */
  readonly acls = new Map<string, Map<string, Acl>>()
  /** Target → the catalog record holding its GRANT statements. */
  readonly aclIds = new Map<string, number>()
  readonly secrets = new Map<string, { readonly id: number; readonly value: string }>()
  /** By tokenId. */
  readonly tokens = new Map<string, TokenInfo>()
  private nextOid = 16384

  allocateOid(): number {
    return this.nextOid++
  }

  /** Drops every grant on `target` (a dropped object); returns the record to delete, if any. */
  forget(target: string): number | undefined {
    this.acls.delete(target)
    const id = this.aclIds.get(target)
    this.aclIds.delete(target)
    return id
  }

  /** Whether `role` holds `privilege` on `target` (directly; there is no role membership). */
  holds(role: string, target: string, privilege: Privilege): boolean {
    return this.acls.get(target)?.get(role)?.privileges.has(privilege) === true
  }

  /** Whether `role` may grant on, drop and alter `target`. */
  owns(role: string, target: string): boolean {
    return this.acls.get(target)?.get(role)?.grantOption === true
  }

  /** Whether `role` holds any privilege that writes (so FLUSH is worth waiting for). */
  writes(role: string): boolean {
    for (const perRole of this.acls.values()) {
      const acl = perRole.get(role)
      if (acl === undefined) continue
      if (acl.privileges.has('insert') || acl.privileges.has('update') || acl.privileges.has('delete')) return true
      if (acl.privileges.has('create')) return true
    }
    return false
  }

  /** The role a bearer token digest belongs to. */
  tokenRole(digest: string): string | undefined {
    for (const t of this.tokens.values()) if (t.digest === digest) return t.role
    return undefined
  }
}

/** An identifier as SQL text, always quoted so any name round-trips. */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`
}
