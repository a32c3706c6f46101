/** A JSONB value (wrapped so that JSON null is distinct from SQL NULL). */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

export class Jsonb {
  constructor(readonly value: JsonValue) {}
}
