/**
 * SqlClient over an engine Session in the same process: runs statements directly and prints
 * each value with the engine's own PostgreSQL text output, in the session's time zone.
 */
import type { Session } from '../../engine/session-api.ts'
import type { SqlClient, SqlOutcome } from './client.ts'
import { formatText } from '../../engine/types/text.ts'
import { toSluiceError } from '../../engine/errors.ts'

/** Wraps a session; `close()` closes the session (the engine stays open). */
export function inProcessClient(session: Session): SqlClient {
  return {
    async run(sql: string): Promise<SqlOutcome> {
      let results
      try {
        results = await session.execute(sql)
      } catch (e) {
        const err = toSluiceError(e)
        return { error: { code: err.code, message: err.message } }
      }
      const last = results[results.length - 1]
      const columns = last?.columns ?? []
      if (columns.length === 0) return { columns: [], rows: [] }
      const tz = session.setting('timezone') ?? session.setting('TimeZone') ?? 'UTC'
      const rows = (last.rows ?? []).map((row) =>
        columns.map((c, i) => (row[i] === null || row[i] === undefined ? null : formatText(c.type, row[i], tz))),
      )
      return { columns: columns.map((c) => c.name), rows }
    },
    async close(): Promise<void> {
      session.close()
    },
  }
}
