/**
 * Password authentication: which request to send (cleartext or MD5 with a per-connection salt)
 * and how to check the answer. An unknown user gets the same failure as a wrong password, as
 * in PostgreSQL, so the message does not reveal which user names exist.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { WireError } from './errors.ts'
import { authenticationCleartextPassword, authenticationMD5Password } from './writer.ts'

/** How clients authenticate. `password` checks the users map; md5 is the default method. */
export type AuthConfig =
  | { readonly mode: 'trust' }
  | { readonly mode: 'password'; readonly users: ReadonlyMap<string, string>; readonly method?: 'md5' | 'cleartext' }

/** One pending password exchange. */
export interface PasswordChallenge {
  /** The AuthenticationCleartextPassword or AuthenticationMD5Password message. */
  readonly request: Buffer
  /** Throws FATAL 28P01 unless `answer` (the PasswordMessage string) is right for the user. */
  verify(answer: string): void
}

export function passwordChallenge(config: Extract<AuthConfig, { mode: 'password' }>, user: string): PasswordChallenge {
  const expected = config.users.get(user)
  if (config.method === 'cleartext') {
    return { request: authenticationCleartextPassword(), verify: (answer) => check(user, expected, answer) }
  }
  const salt = randomBytes(4)
  return {
    request: authenticationMD5Password(salt),
    verify: (answer) => check(user, expected === undefined ? undefined : md5Answer(user, expected, salt), answer),
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

function check(user: string, expected: string | undefined, answer: string): void {
  const a = Buffer.from(answer)
  const ok =
    expected !== undefined && a.length === Buffer.byteLength(expected) && timingSafeEqual(a, Buffer.from(expected))
  if (!ok) throw new WireError('28P01', `password authentication failed for user "${user}"`, 'FATAL')
}
