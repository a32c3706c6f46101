/**
 * The rows pg_roles and pg_user show for the roles of the catalog (after the bootstrap superuser),
 * and sluice_catalog.secrets (names only: no one can read a value back). Passwords show as
 * `********`, as PostgreSQL shows them to everyone.
 */
import type { Engine } from '../engine.ts'
import type { Value } from '../types/datatype.ts'

export function pgRolesRows(engine: Engine): Record<string, Value>[] {
  return [...engine.access.roles.values()].map((r) => ({
    oid: BigInt(r.oid),
    rolname: r.name,
    rolsuper: r.superuser,
    rolinherit: true,
    rolcreaterole: r.superuser,
    rolcreatedb: r.superuser,
    rolcanlogin: r.login,
    rolreplication: false,
    rolconnlimit: -1,
    rolpassword: '********',
    rolbypassrls: r.superuser,
  }))
}

export function pgUserRows(engine: Engine): Record<string, Value>[] {
  return [...engine.access.roles.values()]
    .filter((r) => r.login)
    .map((r) => ({
      usename: r.name,
      usesysid: BigInt(r.oid),
      usecreatedb: r.superuser,
      usesuper: r.superuser,
      userepl: false,
      usebypassrls: r.superuser,
      passwd: '********',
    }))
}

export function secretRows(engine: Engine): Value[][] {
  return [...engine.access.secrets.keys()].sort().map((name) => [name])
}
