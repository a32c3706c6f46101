/**
 * The `redis` sink: a view's rows as Redis hashes a dashboard or service reads directly, and for
 * top-N views sorted sets it can read with ZREVRANGE. `CREATE SINK top_to_redis FROM top3 WITH
 * (connector = 'redis', url = 'redis://127.0.0.1:6379', key = 'category, auction', zset = 'n',
 * zset_group = 'category')`.
 *
 * Delivery is at-least-once with an exactly-once effect: each epoch's net changes are idempotent
 * upserts and deletes keyed on the row key, applied in ONE MULTI/EXEC together with
 * `SET _sluice:sink:<name>:progress <epoch>`. A commit first reads the progress under WATCH and
 * does nothing when the epoch is already there; WATCH makes a concurrent commit of another epoch
 * (a writer that outlived its sink) abort this EXEC instead of interleaving with it.
 *
 * Redis never rolls a transaction back: a command failing inside EXEC (WRONGTYPE, when a key of
 * ours holds another type) leaves the others applied. The progress is then set back, so the
 * epoch stays pending and the error shows in sluice_catalog.sinks; replaying it is idempotent.
 */
import type { Chunk } from '../../engine/chunk.ts'
import type {
  ColumnSchema,
  ConnectorContext,
  ConnectorOptions,
  SinkFactory,
  SinkSpec,
  SinkWriter,
} from '../../engine/connector.ts'
import type { RedisSinkConfig } from './options.ts'
import type * as RedisModule from 'redis'
import { SluiceError, SqlState } from '../../engine/errors.ts'
import { netChanges } from '../upsert/net-changes.ts'
import { decodeEpoch, encodeEpoch, hashFields, isEmptyEpoch, planEpoch, type RedisEpoch } from './epoch.ts'
import { parseRedisOptions } from './options.ts'

/**
 * node-redis, imported by the factory's prepare() (before the first writer) rather than at module
 * load: it takes some 150 ms to import, on every server start otherwise.
 */
let redis: typeof RedisModule | undefined

function redisModule(): typeof RedisModule {
  if (redis === undefined) throw new Error('the redis sink used before its factory was prepared')
  return redis
}

type RedisClient = ReturnType<typeof newClient>
type Multi = ReturnType<RedisClient['multi']>

/** Keys per DEL / members per ZREM or ZADD command, so no single command grows unbounded. */
const BATCH = 1000
/** A connection that neither sends nor receives for this long is closed (a hung server fails the commit). */
const SOCKET_TIMEOUT_MS = 60_000
const CONNECT_TIMEOUT_MS = 5_000

export class RedisSinkWriter implements SinkWriter {
  private pending: Chunk[] = []
  private client: RedisClient | undefined

  constructor(
    private readonly columns: readonly ColumnSchema[],
    private readonly config: RedisSinkConfig,
    private readonly ctx: ConnectorContext,
  ) {}

  async open(): Promise<void> {
    await this.connected()
  }

  write(chunk: Chunk): void {
    if (chunk.length > 0) this.pending.push(chunk)
  }

  preCommit(_epoch: number): Uint8Array | undefined {
    const chunks = this.pending
    this.pending = []
    if (chunks.length === 0) return undefined
    const epoch = planEpoch(netChanges(chunks, this.columns, this.config.key), this.config)
    // Changes that cancel out within the epoch: nothing to write, no progress marker needed.
    return isEmptyEpoch(epoch) ? undefined : encodeEpoch(epoch)
  }

  async commit(epoch: number, logged: Uint8Array | undefined): Promise<void> {
    if (logged === undefined) return
    const changes = decodeEpoch(logged)
    const client = await this.connected()
    try {
      // A WatchError means the progress changed between our read and EXEC: read it again.
      for (let attempt = 0; ; attempt++) {
        try {
          await this.commitOnce(client, epoch, changes)
          return
        } catch (e) {
          if (!(e instanceof redisModule().WatchError)) throw e
          if (attempt >= 3) {
            throw new SluiceError(
              SqlState.io_error,
              `the progress key ${this.config.progressKey} keeps changing under this sink's commits: is another writer using it?`,
              { domain: 'external', retryable: true },
            )
          }
        }
      }
    } catch (e) {
      if (e instanceof SluiceError) throw e
      this.disconnect()
      throw unreachable(this.config.url, e)
    }
  }

  async committedEpoch(): Promise<number> {
    const client = await this.connected()
    try {
      return progressOf(await client.get(this.config.progressKey))
    } catch (e) {
      this.disconnect()
      throw unreachable(this.config.url, e)
    }
  }

  close(): Promise<void> {
    this.disconnect()
    return Promise.resolve()
  }

  private async commitOnce(client: RedisClient, epoch: number, changes: RedisEpoch): Promise<void> {
    const { progressKey } = this.config
    await client.watch(progressKey)
    const before = progressOf(await client.get(progressKey))
    if (before >= epoch) {
      await client.unwatch()
      return
    }
    const multi = client.multi()
    this.queue(multi, changes)
    multi.sendCommand(['SET', progressKey, String(epoch)])
    try {
      await multi.exec()
    } catch (e) {
      if (!(e instanceof redisModule().MultiErrorReply)) throw e
      // Part of the epoch failed inside EXEC and the rest (with the progress) applied: put the
      // progress back so the epoch is retried, and report what Redis said.
      await (before === 0 ? client.del(progressKey) : client.set(progressKey, String(before)))
      const first = [...e.errors()][0]
      throw new SluiceError(
        SqlState.datatype_mismatch,
        `redis refused part of epoch ${epoch}: ${first?.message ?? e.message}`,
        {
          domain: 'external',
          hint: `keys under "${this.config.prefix}" must be hashes (and the sorted sets sorted sets) written only by this sink`,
        },
      )
    }
  }

  /** The epoch's operations, deletes before writes (a key is in one list only) and set removals before additions. */
  private queue(multi: Multi, changes: RedisEpoch): void {
    const { prefix, zset } = this.config
    for (let i = 0; i < changes.deletes.length; i += BATCH) {
      multi.sendCommand(['DEL', ...changes.deletes.slice(i, i + BATCH).map((k) => prefix + k)])
    }
    for (const [suffix, ...values] of changes.upserts) {
      const key = prefix + suffix
      const { set, absent } = hashFields(this.columns, values)
      // A row whose every column is NULL has no fields, and an empty hash does not exist.
      if (set.length === 0) {
        multi.sendCommand(['DEL', key])
        continue
      }
      multi.sendCommand(['HSET', key, ...set.flat()])
      if (absent.length > 0) multi.sendCommand(['HDEL', key, ...absent])
    }
    if (zset === undefined) return
    for (const [set, members] of groupBySet(changes.zrem.map(([s, m]) => [s, [m]]))) {
      for (let i = 0; i < members.length; i += BATCH)
        multi.sendCommand(['ZREM', zset.name + set, ...members.slice(i, i + BATCH)])
    }
    for (const [set, pairs] of groupBySet(changes.zadd.map(([s, score, m]) => [s, [score, m]]))) {
      for (let i = 0; i < pairs.length; i += 2 * BATCH)
        multi.sendCommand(['ZADD', zset.name + set, ...pairs.slice(i, i + 2 * BATCH)])
    }
  }

  /** The open client, connecting (again) when there is none or the last one failed. */
  private async connected(): Promise<RedisClient> {
    if (this.client?.isReady === true) return this.client
    this.disconnect()
    const client = newClient(this.config.url)
    // Without a listener an 'error' event would be thrown and end the process.
    client.on('error', (e: unknown) =>
      this.ctx.log('debug', 'redis connection error', { error: e instanceof Error ? e.message : String(e) }),
    )
    try {
      await client.connect()
    } catch (e) {
      client.destroy()
      throw unreachable(this.config.url, e)
    }
    this.client = client
    return client
  }

  private disconnect(): void {
    const client = this.client
    this.client = undefined
    if (client === undefined) return
    try {
      if (client.isOpen) client.destroy()
    } catch {
      // already closed
    }
  }
}

function newClient(url: string) {
  return redisModule().createClient({
    url,
    // No reconnecting in the background and no offline queue: a lost connection fails the
    // commit at once, and the coordinator retries it at the next checkpoint over a new connection.
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, socketTimeout: SOCKET_TIMEOUT_MS, reconnectStrategy: false },
    disableOfflineQueue: true,
  })
}

function progressOf(text: string | null): number {
  const n = text === null ? 0 : Number(text)
  return Number.isSafeInteger(n) && n > 0 ? n : 0
}

/** Arguments grouped by set name suffix, in first-seen order. */
function groupBySet(entries: readonly [string, string[]][]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const [set, args] of entries) {
    const list = out.get(set)
    if (list === undefined) out.set(set, [...args])
    else list.push(...args)
  }
  return out
}

/**
 * A failure as shown in sluice_catalog.sinks, with the URL without its password: what Redis
 * answered (an error reply: WRONGPASS, NOPERM, OOM, ...), else that it cannot be reached.
 */
function unreachable(url: string, e: unknown): SluiceError {
  let where = url
  try {
    const u = new URL(url)
    u.password = ''
    where = u.toString()
  } catch {
    // keep as given
  }
  const message = e instanceof Error ? e.message || e.name : String(e)
  if (redis !== undefined && e instanceof redis.ErrorReply)
    return new SluiceError(SqlState.io_error, `redis at ${where} refused: ${message}`, {
      domain: 'external',
      retryable: true,
      cause: e,
    })
  return new SluiceError(SqlState.io_error, `redis at ${where} is unreachable: ${message}`, {
    domain: 'external',
    retryable: true,
    cause: e,
  })
}

export const redisSinkFactory: SinkFactory = {
  connector: 'redis',
  async prepare(): Promise<void> {
    redis ??= await import('redis')
  },
  create(spec: SinkSpec, options: ConnectorOptions, ctx: ConnectorContext): SinkWriter {
    return new RedisSinkWriter(spec.columns, parseRedisOptions(ctx.name, spec, options), ctx)
  },
}
