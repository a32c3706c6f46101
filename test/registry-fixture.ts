/**
 * A small in-process schema registry for tests: the subset of the Confluent Schema Registry REST
 * API that Sluice and the Confluent clients use, over a real HTTP socket (node:http).
 *
 *   POST /subjects/:s/versions              register (same schema → same id); refused with 409
 *                                           when incompatible with the latest under the subject's
 *                                           compatibility level (BACKWARD by default, as Confluent's)
 *   GET  /schemas/ids/:id                   the schema of an id (404, error_code 40403, if unknown)
 *   GET  /subjects/:s/versions/latest|:v    a version of a subject
 *   GET  /subjects, GET /subjects/:s/versions
 *   POST /subjects/:s                       look a schema up under a subject
 *   POST /compatibility/subjects/:s/versions/latest   {"is_compatible": bool}
 *   PUT  /config/:s, PUT /config            {"compatibility": "BACKWARD" | "NONE" | ...}
 *
 * BACKWARD means the new schema, as reader, resolves every record written with the latest one
 * (avsc's resolver decides); FORWARD the other way; FULL both; NONE anything. Avro only.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import avro from 'avsc'

interface Version {
  readonly id: number
  readonly version: number
  readonly schema: string
}

type Compatibility =
  'BACKWARD' | 'FORWARD' | 'FULL' | 'NONE' | 'BACKWARD_TRANSITIVE' | 'FORWARD_TRANSITIVE' | 'FULL_TRANSITIVE'

export interface RegistryFixture {
  readonly url: string
  /** How many GET /schemas/ids requests were served (cache checks). */
  readonly idLookups: number
  close(): Promise<void>
}

function canonical(schema: string): string {
  return JSON.stringify(JSON.parse(schema))
}

function readable(reader: string, writer: string): boolean {
  try {
    avro.Type.forSchema(JSON.parse(reader) as avro.Schema).createResolver(
      avro.Type.forSchema(JSON.parse(writer) as avro.Schema),
    )
    return true
  } catch {
    return false
  }
}

function compatible(level: Compatibility, next: string, previous: readonly Version[]): boolean {
  if (level === 'NONE' || previous.length === 0) return true
  const against = level.endsWith('_TRANSITIVE') ? previous : [previous[previous.length - 1]]
  return against.every((old) => {
    const backward = readable(next, old.schema)
    const forward = readable(old.schema, next)
    if (level.startsWith('BACKWARD')) return backward
    if (level.startsWith('FORWARD')) return forward
    return backward && forward
  })
}

export async function startRegistryFixture(): Promise<RegistryFixture> {
  const ids = new Map<number, string>()
  const byText = new Map<string, number>()
  const subjects = new Map<string, Version[]>()
  const config = new Map<string, Compatibility>()
  let nextId = 1
  let idLookups = 0

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { 'content-type': 'application/vnd.schemaregistry.v1+json' })
    res.end(JSON.stringify(body))
  }
  const notFound = (res: ServerResponse, code: number, message: string): void =>
    send(res, 404, { error_code: code, message })

  async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
    const parts: Buffer[] = []
    for await (const p of req) parts.push(p as Buffer)
    const text = Buffer.concat(parts).toString('utf8')
    return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)
  }

  function level(subject: string): Compatibility {
    return config.get(subject) ?? config.get('') ?? 'BACKWARD'
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = url.pathname
      .split('/')
      .filter((p) => p !== '')
      .map(decodeURIComponent)
    const method = req.method ?? 'GET'
    if (method === 'GET' && path[0] === 'schemas' && path[1] === 'ids' && path.length === 3) {
      idLookups++
      const schema = ids.get(Number(path[2]))
      if (schema === undefined) return notFound(res, 40403, 'Schema not found')
      return send(res, 200, { schema })
    }
    if (path[0] === 'subjects') {
      if (path.length === 1 && method === 'GET') return send(res, 200, [...subjects.keys()])
      const subject = path[1]
      const versions = subjects.get(subject) ?? []
      if (path.length === 3 && path[2] === 'versions' && method === 'POST') {
        const b = await body(req)
        if (typeof b.schema !== 'string') return send(res, 422, { error_code: 42201, message: 'Invalid schema' })
        let text: string
        try {
          text = canonical(b.schema)
          avro.Type.forSchema(JSON.parse(text) as avro.Schema)
        } catch (e) {
          return send(res, 422, { error_code: 42201, message: `Invalid schema: ${(e as Error).message}` })
        }
        const same = versions.find((v) => v.schema === text)
        if (same !== undefined) return send(res, 200, { id: same.id })
        if (!compatible(level(subject), text, versions)) {
          return send(res, 409, {
            error_code: 409,
            message: `Schema being registered is incompatible with an earlier schema for subject "${subject}"`,
          })
        }
        let id = byText.get(text)
        if (id === undefined) {
          id = nextId++
          ids.set(id, text)
          byText.set(text, id)
        }
        versions.push({ id, version: versions.length + 1, schema: text })
        subjects.set(subject, versions)
        return send(res, 200, { id })
      }
      if (path.length === 3 && path[2] === 'versions' && method === 'GET') {
        if (versions.length === 0) return notFound(res, 40401, 'Subject not found')
        return send(
          res,
          200,
          versions.map((v) => v.version),
        )
      }
      if (path.length === 4 && path[2] === 'versions' && method === 'GET') {
        if (versions.length === 0) return notFound(res, 40401, 'Subject not found')
        const v =
          path[3] === 'latest' ? versions[versions.length - 1] : versions.find((x) => x.version === Number(path[3]))
        if (v === undefined) return notFound(res, 40402, 'Version not found')
        return send(res, 200, { subject, version: v.version, id: v.id, schema: v.schema })
      }
      if (path.length === 2 && method === 'POST') {
        const b = await body(req)
        const text = typeof b.schema === 'string' ? canonical(b.schema) : ''
        const v = versions.find((x) => x.schema === text)
        if (v === undefined) return notFound(res, versions.length === 0 ? 40401 : 40403, 'Schema not found')
        return send(res, 200, { subject, version: v.version, id: v.id, schema: v.schema })
      }
    }
    if (method === 'POST' && path[0] === 'compatibility' && path[1] === 'subjects' && path[3] === 'versions') {
      const b = await body(req)
      const subject = path[2]
      const versions = subjects.get(subject) ?? []
      const text = typeof b.schema === 'string' ? canonical(b.schema) : ''
      return send(res, 200, { is_compatible: compatible(level(subject), text, versions) })
    }
    if (method === 'PUT' && path[0] === 'config') {
      const b = await body(req)
      config.set(path[1] ?? '', b.compatibility as Compatibility)
      return send(res, 200, { compatibility: b.compatibility })
    }
    return notFound(res, 404, `no route ${method} ${url.pathname}`)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => send(res, 500, { error_code: 500, message: (e as Error).message }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    get idLookups() {
      return idLookups
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((e) => (e === undefined ? resolve() : reject(e)))
      }),
  }
}
