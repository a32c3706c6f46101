/**
 * Who an HTTP request is: the one place a request becomes a user, for every route (SQL, views,
 * ingest, subscribe, the console's JSON). The same users as pgwire, checked against the same
 * SCRAM verifiers:
 *
 * - `Authorization: Basic <user:password>`: a role of the catalog (CREATE ROLE ... PASSWORD) or a
 *   user of the server's auth config (`--password` for the bootstrap user);
 * - `Authorization: Bearer <token>`: a `--http-token` (the bootstrap superuser's) or a token made
 *   by `CREATE TOKEN FOR role` (that role's);
 * - nothing: the bootstrap superuser when the server has no auth at all (trust and no tokens),
 *   else 401.
 *
 * The session a route opens for the request carries the user, so the engine applies the user's
 * grants exactly as it does for a pgwire connection (engine/exec/privileges.ts).
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { parseVerifier, passwordMatches } from '../../engine/util/scram.ts'
import type { SqlDatabase } from './sql.ts'

/** The user a request acts as. `readOnly`: a read-only user of the library's users map. */
export interface HttpPrincipal {
  readonly user: string
  readonly readOnly: boolean
}

/** A user's credentials as the auth config or the catalog knows them. */
export interface HttpUser {
  /** A clear password (config) or a SCRAM verifier (catalog, or config). */
  readonly password: string | undefined
  readonly readOnly: boolean
  /** false: a role without LOGIN, refused as pgwire refuses it. */
  readonly login: boolean
}

export interface HttpAuthOptions {
  /** Tokens of the bootstrap superuser (`--http-token`). */
  readonly tokens?: readonly string[]
  /** The bootstrap superuser's name (default `sluice`). */
  readonly bootstrapUser?: string
  /** Whether a request without credentials is refused (a password or tokens are configured). */
  readonly required: boolean
  /** The user called `name`, or undefined. */
  readonly user?: (name: string) => HttpUser | undefined
  /** The role a token digest (SHA-256, hex) belongs to (`CREATE TOKEN FOR role`). */
  readonly tokenRole?: (digest: string) => string | undefined
}

export type HttpAuthOutcome =
  { readonly ok: true; readonly principal: HttpPrincipal } | { readonly ok: false; readonly detail: string }

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest()

/** Builds the function that maps an Authorization header to a principal (or why not). */
export function httpAuthenticator(options: HttpAuthOptions): (authorization: string | undefined) => HttpAuthOutcome {
  const bootstrap: HttpPrincipal = { user: options.bootstrapUser ?? 'sluice', readOnly: false }
  const known = (options.tokens ?? []).map(sha256)
  // PBKDF2 per request would cost milliseconds: remember the digests of passwords that matched.
  const accepted = new Map<string, string>()
  const fail = (detail: string): HttpAuthOutcome => ({ ok: false, detail })
  return (authorization) => {
    if (authorization === undefined || authorization === '') {
      return options.required ? fail('this server needs credentials') : { ok: true, principal: bootstrap }
    }
    const bearer = /^bearer +(\S+) *$/i.exec(authorization)
    if (bearer !== null) {
      const given = sha256(bearer[1])
      let ok = false
      for (const k of known) ok = timingSafeEqual(k, given) || ok
      if (ok) return { ok: true, principal: bootstrap }
      const role = options.tokenRole?.(given.toString('hex'))
      const user = role === undefined ? undefined : options.user?.(role)
      if (role !== undefined && user?.login !== false)
        return { ok: true, principal: { user: role, readOnly: user?.readOnly ?? false } }
      return fail('the bearer token is not valid')
    }
    const basic = /^basic +([A-Za-z0-9+/=]+) *$/i.exec(authorization)
    if (basic === null) return fail('unsupported authorization scheme')
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon <= 0) return fail('malformed basic credentials')
    const name = decoded.slice(0, colon)
    const password = decoded.slice(colon + 1)
    const user = options.user?.(name)
    const wrong = fail(`password authentication failed for user "${name}"`)
    if (user === undefined || user.password === undefined) {
      // Under trust a name without a password is taken at its word, as pgwire does.
      if (options.required || user?.password !== undefined) return wrong
      if (user?.login === false) return fail(`role "${name}" is not permitted to log in`)
      return { ok: true, principal: { user: name, readOnly: user?.readOnly ?? false } }
    }
    if (!user.login) return fail(`role "${name}" is not permitted to log in`)
    const key = `${name}\u0000${user.password}`
    const digest = sha256(password).toString('hex')
    if (accepted.get(key) !== digest) {
      const verifier = parseVerifier(user.password)
      const ok =
        verifier !== undefined
          ? passwordMatches(verifier, password)
          : Buffer.byteLength(password) === Buffer.byteLength(user.password) &&
            timingSafeEqual(Buffer.from(password), Buffer.from(user.password))
      if (!ok) return wrong
      accepted.set(key, digest)
    }
    return { ok: true, principal: { user: name, readOnly: user.readOnly } }
  }
}

const principals = new WeakMap<FastifyRequest, HttpPrincipal>()

/** Remembers who `req` is (the app's onRequest hook). */
export function setPrincipal(req: FastifyRequest, principal: HttpPrincipal): void {
  principals.set(req, principal)
}

/** Who `req` is; the bootstrap superuser for a request the hook let through without credentials. */
export function principalOf(req: FastifyRequest): HttpPrincipal {
  return principals.get(req) ?? { user: 'sluice', readOnly: false }
}

/** Sessions for `principal`: the engine applies its grants to every statement they run. */
export function sessionsFor(db: SqlDatabase, principal: HttpPrincipal): SqlDatabase {
  return { session: (o) => db.session({ ...o, user: principal.user, readOnly: principal.readOnly }) }
}
