/**
 * A connector option written `key = SECRET name` (RisingWave's and Materialize's spelling) is kept
 * in the option map as a marked reference, never as the secret's value: the catalog, SHOW CREATE
 * and EXPLAIN carry only the name, and the value is looked up when the connector is built
 * (engine/catalog/secrets.ts). The mark starts with a NUL, which no SQL string literal can hold.
 */
const MARK = '\u0000SECRET\u0000'

/** The option value that stands for the secret `name`. */
export function secretRef(name: string): string {
  return MARK + name
}

/** The secret an option value refers to, or undefined for a plain value. */
export function secretRefName(value: string): string | undefined {
  return value.startsWith(MARK) ? value.slice(MARK.length) : undefined
}
