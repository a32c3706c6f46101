/**
 * Authentication: who may connect, with which role, and the password exchanges — SCRAM-SHA-256
 * (RFC 5802/7677, PostgreSQL's default since 14), MD5 with a per-connection salt, or cleartext.
 * An unknown user gets the same failure as a wrong password, as in PostgreSQL (for SCRAM a mock
 * exchange with a salt derived from the name), so the answer does not reveal which users exist.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'
import { WireError } from './errors.ts'
import * as W from './writer.ts'

/** `readonly`: SELECT, SUBSCRIBE, SHOW, EXPLAIN and session commands only (docs/operations.md). */
export type Role = 'admin' | 'readonly'

export interface UserConfig {
  /**
   * The password, or a stored SCRAM verifier as PostgreSQL writes it
   * (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), so config files need not
   * hold passwords in the clear. A verifier only works with the scram-sha-256 method.
   */
  readonly password?: string
  /** Default admin. */
  readonly role?: Role
}

export type AuthMethod = 'scram-sha-256' | 'md5' | 'cleartext'

/**
 * How clients authenticate. `trust` lets every user in (local development); users listed there
 * still get their role. `password` admits only the listed users, with the method given
 * (default scram-sha-256). A plain string is a password with the admin role.
 */
export type AuthConfig =
  | {
      readonly mode: 'trust'
      readonly users?: ReadonlyMap<string, string | UserConfig>
      readonly directory?: RoleDirectory
    }
  | {
      readonly mode: 'password'
      readonly users: ReadonlyMap<string, string | UserConfig>
      readonly method?: AuthMethod
      readonly directory?: RoleDirectory
    }

/**
 * The roles created in SQL (CREATE ROLE ... PASSWORD), consulted for users the `users` map does
 * not list. Looked up at each connection, so ALTER ROLE and DROP ROLE apply to the next login.
 */
export interface RoleDirectory {
  lookup(
    user: string,
  ): { readonly verifier: string | undefined; readonly login: boolean; readonly superuser: boolean } | undefined
}

/** The role `user` gets under `config`. A role of the catalog gets exactly its grants (the engine decides). */
export function roleOf(config: AuthConfig, user: string): Role {
  const entry = config.users?.get(user)
  if (entry === undefined) {
    const role = config.directory?.lookup(user)
    // 'readonly' only reports is_superuser = off: the engine applies the catalog role's grants.
    if (role !== undefined) return role.superuser ? 'admin' : 'readonly'
  }
  return typeof entry === 'object' ? (entry.role ?? 'admin') : 'admin'
}

/** 28000 for a catalog role without LOGIN (the users map's entries may always log in). */
export function checkLogin(config: AuthConfig, user: string): void {
  if (config.users?.has(user) === true) return
  if (config.directory?.lookup(user)?.login === false)
    throw new WireError('28000', `role "${user}" is not permitted to log in`, 'FATAL')
}

/** One pending password exchange: the first request, then one step per PasswordMessage. */
export interface PasswordExchange {
  /** AuthenticationSASL, AuthenticationMD5Password or AuthenticationCleartextPassword. */
  readonly request: Buffer
  /**
   * Handles one PasswordMessage/SASLResponse body. Returns the messages to send and whether the
   * client is now authenticated; throws FATAL 28P01 (or 08P01 for a malformed exchange).
   */
  step(body: Buffer): { readonly send: readonly Buffer[]; readonly done: boolean }
}

/** Per-server cache of SCRAM verifiers, so PBKDF2 runs once per user rather than per connection. */
const verifiers = new WeakMap<AuthConfig, Map<string, ScramVerifier>>()

export function passwordExchange(config: Extract<AuthConfig, { mode: 'password' }>, user: string): PasswordExchange {
  const entry = config.users.get(user)
  const password = typeof entry === 'string' ? entry : entry?.password
  const method = config.method ?? 'scram-sha-256'
  if (entry === undefined && method === 'scram-sha-256') {
    // A catalog role: its stored verifier, parsed per connection (cheap; ALTER ROLE applies at once).
    const stored = config.directory?.lookup(user)?.verifier
    return scramExchange(user, stored === undefined ? undefined : parseVerifier(stored))
  }
  if (entry === undefined && config.directory?.lookup(user) !== undefined)
    return failingExchange(
      user,
      method === 'md5' ? W.authenticationMD5Password(randomBytes(4)) : W.authenticationCleartextPassword(),
    )
  if (method === 'scram-sha-256') {
    let cache = verifiers.get(config)
    if (cache === undefined) verifiers.set(config, (cache = new Map()))
    let verifier = password === undefined ? undefined : cache.get(user)
    if (verifier === undefined && password !== undefined) {
      verifier = parseVerifier(password) ?? makeVerifier(password, randomBytes(16), SCRAM_ITERATIONS)
      cache.set(user, verifier)
    }
    return scramExchange(user, verifier)
  }
  if (password !== undefined && parseVerifier(password) !== undefined)
    return failingExchange(
      user,
      method === 'md5' ? W.authenticationMD5Password(randomBytes(4)) : W.authenticationCleartextPassword(),
    )
  if (method === 'cleartext') {
    return {
      request: W.authenticationCleartextPassword(),
      step: (body) => {
        check(user, password, cstring(body))
        return { send: [], done: true }
      },
    }
  }
  const salt = randomBytes(4)
  return {
    request: W.authenticationMD5Password(salt),
    step: (body) => {
      check(user, password === undefined ? undefined : md5Answer(user, password, salt), cstring(body))
      return { send: [], done: true }
    },
  }
}

/** What a client answers to an MD5 request: 'md5' + md5(md5(password + user) + salt). */
export function md5Answer(user: string, password: string, salt: Buffer): string {
  const inner = createHash('md5')
    .update(password + user)
    .digest('hex')
  return (
    'md5' +
    createHash('md5')
      .update(Buffer.concat([Buffer.from(inner), salt]))
      .digest('hex')
  )
}

function failed(user: string): WireError {
  return new WireError('28P01', `password authentication failed for user "${user}"`, 'FATAL')
}

function check(user: string, expected: string | undefined, answer: string): void {
  const a = Buffer.from(answer)
  const ok =
    expected !== undefined && a.length === Buffer.byteLength(expected) && timingSafeEqual(a, Buffer.from(expected))
  if (!ok) throw failed(user)
}

function failingExchange(user: string, request: Buffer): PasswordExchange {
  return {
    request,
    step: () => {
      throw failed(user)
    },
  }
}

function cstring(body: Buffer): string {
  const end = body.indexOf(0)
  if (end < 0 || end !== body.length - 1) throw new WireError('08P01', 'invalid password packet', 'FATAL')
  return body.toString('utf8', 0, end)
}

// ---- SCRAM-SHA-256 ----

export const SCRAM_ITERATIONS = 4096

export interface ScramVerifier {
  readonly iterations: number
  readonly salt: Buffer
  readonly storedKey: Buffer
  readonly serverKey: Buffer
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest()
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest()

/** The verifier PostgreSQL would store for `password` (the password NFKC-normalised, the core of SASLprep). */
export function makeVerifier(password: string, salt: Buffer, iterations: number): ScramVerifier {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256')
  return {
    iterations,
    salt,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  }
}

/** `SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>` (base64 parts), as pg_authid holds it. */
export function formatVerifier(v: ScramVerifier): string {
  return `SCRAM-SHA-256$${v.iterations}:${v.salt.toString('base64')}$${v.storedKey.toString('base64')}:${v.serverKey.toString('base64')}`
}

function parseVerifier(s: string): ScramVerifier | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(s)
  if (m === null) return undefined
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2], 'base64'),
    storedKey: Buffer.from(m[3], 'base64'),
    serverKey: Buffer.from(m[4], 'base64'),
  }
}

/** Unknown users go through the same exchange with a stable fake salt and always fail at the proof. */
const MOCK_SECRET = randomBytes(32)

function scramExchange(user: string, verifier: ScramVerifier | undefined): PasswordExchange {
  const salt = verifier?.salt ?? hmac(MOCK_SECRET, user).subarray(0, 16)
  const iterations = verifier?.iterations ?? SCRAM_ITERATIONS
  const malformed = (what: string): WireError => new WireError('08P01', `malformed SCRAM message (${what})`, 'FATAL')
  let state: { clientFirstBare: string; serverFirst: string; nonce: string; gs2: string } | undefined
  let finished = false
  return {
    request: W.authenticationSASL(['SCRAM-SHA-256']),
    step: (body) => {
      if (finished) throw malformed('exchange already finished')
      if (state === undefined) {
        // SASLInitialResponse: mechanism name, then the client-first-message with its length.
        const end = body.indexOf(0)
        if (end < 0) throw malformed('no mechanism name')
        const mechanism = body.toString('utf8', 0, end)
        if (mechanism !== 'SCRAM-SHA-256')
          throw new WireError('28000', 'client selected an invalid SASL authentication mechanism', 'FATAL')
        if (body.length < end + 5) throw malformed('short initial response')
        const length = body.readInt32BE(end + 1)
        if (length < 0 || end + 5 + length !== body.length) throw malformed('bad initial response length')
        const first = body.toString('utf8', end + 5)
        // gs2 header: n (no channel binding) or y (client could but we did not offer it).
        const m = /^([ny]),(a=[^,]*)?,(.*)$/.exec(first)
        if (m === null) {
          if (first.startsWith('p='))
            throw new WireError(
              '28000',
              'channel binding is not supported; connect with channel_binding=disable or prefer',
              'FATAL',
            )
          throw malformed('bad gs2 header')
        }
        const bare = m[3]
        const r = /(?:^|,)r=([^,]+)/.exec(bare)
        if (r === null || !/^[\x21-\x2b\x2d-\x7e]+$/.test(r[1])) throw malformed('no client nonce')
        const nonce = r[1] + randomBytes(18).toString('base64')
        const serverFirst = `r=${nonce},s=${salt.toString('base64')},i=${iterations}`
        state = { clientFirstBare: bare, serverFirst, nonce, gs2: first.slice(0, first.length - bare.length) }
        return { send: [W.authenticationSASLContinue(serverFirst)], done: false }
      }
      // SASLResponse: c=<gs2 header, base64>,r=<nonce>[,...],p=<proof>
      finished = true
      const final = body.toString('utf8')
      const p = /,p=([A-Za-z0-9+/=]+)$/.exec(final)
      if (p === null) throw malformed('no proof')
      const withoutProof = final.slice(0, p.index)
      const c = /^c=([A-Za-z0-9+/=]*),r=([^,]+)/.exec(withoutProof)
      if (c === null) throw malformed('no channel binding or nonce')
      if (Buffer.from(c[1], 'base64').toString('utf8') !== state.gs2) throw malformed('channel binding does not match')
      if (c[2] !== state.nonce) throw malformed('nonce does not match')
      const proof = Buffer.from(p[1], 'base64')
      if (verifier === undefined || proof.length !== 32) throw failed(user)
      const authMessage = `${state.clientFirstBare},${state.serverFirst},${withoutProof}`
      const clientSignature = hmac(verifier.storedKey, authMessage)
      const clientKey = Buffer.alloc(32)
      for (let i = 0; i < 32; i++) clientKey[i] = proof[i] ^ clientSignature[i]
      if (!timingSafeEqual(sha256(clientKey), verifier.storedKey)) throw failed(user)
      const serverSignature = hmac(verifier.serverKey, authMessage).toString('base64')
      return { send: [W.authenticationSASLFinal(`v=${serverSignature}`)], done: true }
    },
  }
}
