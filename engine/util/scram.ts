/**
 * SCRAM-SHA-256 verifiers as PostgreSQL stores them (`pg_authid.rolpassword`):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`, base64 parts. Roles keep only
 * this; a clear password is turned into one at CREATE/ALTER ROLE and then forgotten.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto'

export const SCRAM_ITERATIONS = 4096

export interface ScramVerifier {
  readonly iterations: number
  readonly salt: Buffer
  readonly storedKey: Buffer
  readonly serverKey: Buffer
}

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest()

/** The verifier PostgreSQL would store for `password` (NFKC-normalised, the core of SASLprep). */
export function makeVerifier(
  password: string,
  salt: Buffer = randomBytes(16),
  iterations = SCRAM_ITERATIONS,
): ScramVerifier {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256')
  return {
    iterations,
    salt,
    storedKey: createHash('sha256').update(hmac(salted, 'Client Key')).digest(),
    serverKey: hmac(salted, 'Server Key'),
  }
}

export function formatVerifier(v: ScramVerifier): string {
  return `SCRAM-SHA-256$${v.iterations}:${v.salt.toString('base64')}$${v.storedKey.toString('base64')}:${v.serverKey.toString('base64')}`
}

export function parseVerifier(s: string): ScramVerifier | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(s)
  if (m === null) return undefined
  return {
    iterations: Number(m[1]),
    salt: Buffer.from(m[2], 'base64'),
    storedKey: Buffer.from(m[3], 'base64'),
    serverKey: Buffer.from(m[4], 'base64'),
  }
}

/** Whether a clear `password` (HTTP Basic auth) matches `verifier`; compared in constant time. */
export function passwordMatches(verifier: ScramVerifier, password: string): boolean {
  const candidate = makeVerifier(password, verifier.salt, verifier.iterations)
  return timingSafeEqual(candidate.storedKey, verifier.storedKey)
}
