/**
 * What a read-only session (a BI user's role) may run: queries and SUBSCRIBE, the catalog and
 * session commands, EXPLAIN. Everything that changes objects, rows or the engine's progress is
 * refused with 42501. FLUSH is refused too: it holds the engine's write lock while it waits for
 * sources, so a reader could delay every writer with it. The table is a Record over statement
 * kinds, so a new kind does not compile until someone decides.
 */
import type { StatementBody } from '../sql/tree.ts'
import { SluiceError, SqlState } from '../errors.ts'

const READ_ONLY_ALLOWED: Readonly<Record<StatementBody['kind'], boolean>> = {
  query: true,
  subscribe: true,
  show_objects: true,
  show_create: true,
  show_setting: true,
  describe: true,
  explain: true,
  set: true,
  reset_all: true,
  transaction: true,
  noop: true,
  flush: false,
  create_source: false,
  create_table: false,
  create_materialized_view: false,
  create_view: false,
  create_sink: false,
  insert: false,
  update: false,
  delete: false,
  drop: false,
  alter_source_add_column: false,
}

const WORD: Partial<Record<StatementBody['kind'], string>> = {
  flush: 'FLUSH',
  create_source: 'CREATE SOURCE',
  create_table: 'CREATE TABLE',
  create_materialized_view: 'CREATE MATERIALIZED VIEW',
  create_view: 'CREATE VIEW',
  create_sink: 'CREATE SINK',
  insert: 'INSERT',
  update: 'UPDATE',
  delete: 'DELETE',
  drop: 'DROP',
  alter_source_add_column: 'ALTER SOURCE',
}

/** Throws 42501 when a read-only session may not run `stmt`. */
export function checkReadOnly(stmt: StatementBody, user: string): void {
  if (READ_ONLY_ALLOWED[stmt.kind]) return
  throw new SluiceError(SqlState.insufficient_privilege, `permission denied: ${WORD[stmt.kind] ?? stmt.kind} is not allowed for the read-only user "${user}"`, {
    hint: 'Read-only users may run SELECT, SUBSCRIBE, SHOW, DESCRIBE, EXPLAIN and SET.',
  })
}
