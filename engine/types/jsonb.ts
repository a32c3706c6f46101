/**
 * JSONB values, wrapped so that JSON null is distinct from SQL NULL. Text output follows
 * PostgreSQL: `{"a": 1, "b": [1, 2]}`, object keys ordered by length then bytes.
 */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

export class Jsonb {
  constructor(readonly value: JsonValue) {}

  toString(): string {
    return formatJson(this.value)
  }
}

export function formatJson(v: JsonValue): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return `[${v.map(formatJson).join(', ')}]`
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
    return `{${keys.map((k) => `${JSON.stringify(k)}: ${formatJson(v[k])}`).join(', ')}}`
  }
  return JSON.stringify(v)
}
