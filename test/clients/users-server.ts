/**
 * The server the driver tests (pgJDBC, psycopg2/SQLAlchemy) introspect: a real Sluice process
 * holding a table `users` with the given rows (a primary key, a VARCHAR(40) and a NUMERIC(12,2)
 * column, and a secondary index on name), a materialized view `mv` and a plain view `v`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SluiceProcess } from '../sluice-process.ts'

export interface UsersServer {
  readonly sluice: SluiceProcess
  stop(): Promise<void>
}

/** Starts it; `rows` is the VALUES list of `users (id, name, ts, price)`. */
export async function startUsersServer(prefix: string, rows: string): Promise<UsersServer> {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const sluice = await SluiceProcess.create(dir, ['--checkpoint-interval', '0'])
  await sluice.start()
  await sluice.query(
    'CREATE TABLE users (id BIGINT PRIMARY KEY, name VARCHAR(40), ts TIMESTAMPTZ, price NUMERIC(12,2))',
  )
  await sluice.query(`INSERT INTO users VALUES ${rows}`)
  await sluice.query('CREATE INDEX users_name_idx ON users (name)')
  await sluice.query('CREATE MATERIALIZED VIEW mv AS SELECT id, name FROM users')
  await sluice.query('CREATE VIEW v AS SELECT name FROM users')
  return {
    sluice,
    stop: async () => {
      await sluice.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
