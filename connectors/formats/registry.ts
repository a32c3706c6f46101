/**
 * A client of the Confluent Schema Registry REST API, the two reads an Avro source needs:
 * `GET /schemas/ids/:id` (the writer schema of a record) and `GET /subjects/:s/versions/latest`
 * (the subject's current schema, to check a column list). Schemas never change once registered
 * under an id, so found ids are cached for the life of the client; an id the registry does not
 * know (404) is remembered as unknown too, so a stream of bad ids costs one request each.
 * Transport failures and 5xx answers are SluiceErrors of the external domain (retryable).
 */
import { SluiceError, SqlState } from '../../engine/errors.ts'

/** What a registry lookup found: the schema text, or that the registry does not know it. */
export type SchemaLookup =
  { readonly found: true; readonly schema: string } | { readonly found: false; readonly detail: string }

export class RegistryClient {
  private readonly byId = new Map<number, SchemaLookup>()
  private readonly base: string

  constructor(
    url: string,
    private readonly timeoutMs = 10_000,
  ) {
    this.base = url.replace(/\/+$/, '')
  }

  /** The cached answer for `id`, if it was fetched before. */
  cached(id: number): SchemaLookup | undefined {
    return this.byId.get(id)
  }

  /** Fetches the schema registered under `id` (cached). */
  async schemaById(id: number): Promise<SchemaLookup> {
    const hit = this.byId.get(id)
    if (hit !== undefined) return hit
    const res = await this.get(`/schemas/ids/${id}`)
    let lookup: SchemaLookup
    if (res.status === 404) lookup = { found: false, detail: `schema id ${id} is not registered in ${this.base}` }
    else lookup = { found: true, schema: schemaText(res.body, `schema id ${id}`) }
    this.byId.set(id, lookup)
    return lookup
  }

  /** The latest schema registered under `subject`, or undefined when the subject has none. */
  async latest(subject: string): Promise<{ readonly id: number; readonly schema: string } | undefined> {
    const res = await this.get(`/subjects/${encodeURIComponent(subject)}/versions/latest`)
    if (res.status === 404) return undefined
    const body = res.body as { id?: unknown }
    const id = typeof body.id === 'number' ? body.id : -1
    return { id, schema: schemaText(res.body, `the latest schema of subject "${subject}"`) }
  }

  private async get(path: string): Promise<{ status: number; body: unknown }> {
    let res: Response
    try {
      res = await fetch(`${this.base}${path}`, {
        headers: { accept: 'application/vnd.schemaregistry.v1+json, application/json' },
        signal: AbortSignal.timeout(this.timeoutMs),
      })
    } catch (e) {
      throw new SluiceError(SqlState.io_error, `schema registry ${this.base} is unreachable: ${(e as Error).message}`, {
        domain: 'external',
        retryable: true,
        cause: e,
      })
    }
    const text = await res.text()
    if (res.status === 404) return { status: 404, body: undefined }
    if (!res.ok) {
      throw new SluiceError(
        SqlState.io_error,
        `schema registry ${this.base} answered ${res.status} to GET ${path}: ${text.slice(0, 200)}`,
        {
          domain: 'external',
          retryable: res.status >= 500,
        },
      )
    }
    try {
      return { status: res.status, body: JSON.parse(text) as unknown }
    } catch {
      throw new SluiceError(SqlState.io_error, `schema registry ${this.base} sent invalid JSON for GET ${path}`, {
        domain: 'external',
      })
    }
  }
}

function schemaText(body: unknown, what: string): string {
  const s = (body as { schema?: unknown } | undefined)?.schema
  if (typeof s !== 'string') {
    throw new SluiceError(SqlState.io_error, `schema registry answer for ${what} has no "schema" string`, {
      domain: 'external',
    })
  }
  return s
}
