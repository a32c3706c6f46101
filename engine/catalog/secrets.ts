/**
 * Resolving `key = SECRET name` connector options to the secret's value, only at the moment a
 * connector is built: the option map the catalog keeps (and SHOW CREATE prints) holds the name.
 */
import type { Engine } from '../engine.ts'
import { secretRefName } from '../sql/secret-ref.ts'
import { SluiceError, SqlState } from '../errors.ts'

export function resolveSecrets(engine: Engine, options: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>()
  for (const [key, value] of options) {
    const name = secretRefName(value)
    if (name === undefined) {
      out.set(key, value)
      continue
    }
    const secret = engine.access.secrets.get(name)
    if (secret === undefined)
      throw new SluiceError(SqlState.undefined_object, `secret "${name}" does not exist`, {
        hint: `CREATE SECRET ${name} AS '...' first (option "${key}").`,
      })
    out.set(key, secret.value)
  }
  return out
}
