/**
 * The statement front door: SQL text → Sluice's statement tree.
 *
 * A script is split at top-level semicolons. Sluice-only statements (CREATE SOURCE/SINK, SHOW
 * SOURCES, DESCRIBE, FLUSH, SUBSCRIBE, EXPLAIN stages, DROP SOURCE/SINK) are recognised from
 * their leading words. Sluice-only clauses inside otherwise PostgreSQL statements (WATERMARK FOR
 * in a column list, APPEND ONLY, trailing WATERMARK and EMIT on a view, connector WITH options)
 * are lifted out and replaced by spaces, so every character offset — and so every error position
 * — still points into the user's text. The rest goes to PostgreSQL's own grammar (libpg-query).
 */
import { loadModule, parseSync } from 'libpg-query'
import type {
  ColumnDef,
  ExplainStage,
  Expr,
  IncludeClause,
  ObjectKindWord,
  Options,
  Query,
  Statement,
  StatementBody,
  WatermarkClause,
} from './tree.ts'
import type { Token } from './lexer.ts'
import type { PgNode } from './convert.ts'
import { blank, forgetTokens, splitStatements, tokenize, words } from './lexer.ts'
import { Converter, field, list, markLookup, str, unwrap } from './convert.ts'
import { createIndexStatement } from './index-statement.ts'
import { createSecret, createToken, dropSecret, dropToken, roleStatement } from './role-statement.ts'
import { secretRef } from './secret-ref.ts'
import { rewriteDriverQueries } from './driver-queries.ts'
import { parseDurationMicros } from './duration.ts'
import { SluiceError, SqlState } from '../errors.ts'
import { INLINE_PARSE_BYTES, ThreadParseError, parseOnThread } from './parse-thread.ts'

let loaded: Promise<void> | undefined

/** Parses every statement of `text`. */
export async function parseSql(text: string): Promise<Statement[]> {
  loaded ??= loadModule()
  await loaded
  try {
    return await parseStatements(text)
  } finally {
    forgetTokens()
  }
}

async function parseStatements(text: string): Promise<Statement[]> {
  const out: Statement[] = []
  for (const { text: stmt, location } of splitStatements(rewriteDriverQueries(text))) {
    // A statement the main thread should not parse (parse-thread.ts) is converted again once
    // the parser thread has answered for each piece of text that asked for it.
    const trees = new Map<string, PgNode[] | ThreadParseError>()
    for (;;) {
      threadTrees = trees
      try {
        out.push({ ...parseOne(stmt, location), text: stmt, location })
        break
      } catch (e) {
        if (!(e instanceof NeedsThread) || trees.has(e.text)) throw tooComplex(e)
        trees.set(e.text, await threadParse(e.text))
      } finally {
        threadTrees = undefined
      }
    }
  }
  return out
}

/** Thrown (inside a synchronous parseOne) for text that the parser thread must parse. */
class NeedsThread {
  constructor(readonly text: string) {}
}

/** Trees the parser thread returned for the statement being converted, by the text parsed. */
let threadTrees: Map<string, PgNode[] | ThreadParseError> | undefined

async function threadParse(text: string): Promise<PgNode[] | ThreadParseError> {
  try {
    const result = (await parseOnThread(text)) as { stmts?: { stmt: PgNode }[] }
    return (result.stmts ?? []).map((s) => s.stmt)
  } catch (e) {
    if (e instanceof ThreadParseError) return e
    throw e
  }
}

/**
 * 54001 for a statement nested deeper than a recursive pass can follow: the parser's own limit
 * (bison's stack: "memory exhausted") or the JS stack of the conversion (a RangeError).
 */
function tooComplex(e: unknown): unknown {
  if (!(e instanceof RangeError)) return e
  return new SluiceError(SqlState.statement_too_complex, 'statement too complex: expressions nested too deeply', {
    hint: 'Write long chains of operators as several statements, or use IN (...) or an array.',
    cause: e,
  })
}

function syntaxError(near: string, position: number): SluiceError {
  return new SluiceError(
    SqlState.syntax_error,
    near === '' ? 'syntax error at end of input' : `syntax error at or near "${near}"`,
    { position },
  )
}

/** Runs PostgreSQL's grammar over `text` (located at `base` in the input). */
function pgParse(text: string, base: number): PgNode[] {
  try {
    const done = threadTrees?.get(text)
    if (done instanceof ThreadParseError) throw done
    if (done !== undefined) return done
    if (text.length > INLINE_PARSE_BYTES && threadTrees !== undefined) throw new NeedsThread(text)
    const result = parseSync(text) as { stmts?: { stmt: PgNode }[] }
    return (result.stmts ?? []).map((s) => s.stmt)
  } catch (e) {
    if (e instanceof NeedsThread) throw e
    // Too deep for this thread's stack: the parser thread has a larger one.
    if (e instanceof RangeError && threadTrees !== undefined && !threadTrees.has(text)) throw new NeedsThread(text)
    const details = (e as { sqlDetails?: { message?: string; cursorPosition?: number } }).sqlDetails
    const message = details?.message ?? (e instanceof Error ? e.message : String(e))
    const cursor = details?.cursorPosition
    const position = cursor === undefined ? undefined : base + cursor + 1
    // Bison's stack limit (e.g. 10,000 nested parentheses) and the thread's stack are limits, not syntax.
    if (
      e instanceof RangeError ||
      (e instanceof ThreadParseError && e.tooDeep) ||
      message.startsWith('memory exhausted')
    ) {
      throw new SluiceError(SqlState.statement_too_complex, 'statement too complex: expressions nested too deeply', {
        position,
        cause: e,
      })
    }
    throw new SluiceError(SqlState.syntax_error, message, { position })
  }
}

function parseOne(original: string, base: number): StatementBody {
  const text = liftLookups(liftFlinkWindows(original), base)
  const tokens = tokenize(text)
  const head = words(tokens, 0, 4)
  const is = (prefix: string): boolean => head === prefix || head.startsWith(prefix + ' ')

  if (is('create source')) return createSource(text, base, tokens)
  if (is('create sink')) return createSink(text, base, tokens)
  if (is('create table')) return createTable(text, base, tokens)
  if (is('create materialized view')) return createMaterializedView(text, base, tokens)
  if (is('drop source') || is('drop sink')) return dropSluiceObject(tokens, base)
  if (is('show create')) return showCreate(tokens, base)
  if (
    is('show sources') ||
    is('show tables') ||
    is('show materialized views') ||
    is('show views') ||
    is('show sinks')
  ) {
    const w = tokens[1].value
    const objectKind: ObjectKindWord =
      w === 'sources'
        ? 'source'
        : w === 'tables'
          ? 'table'
          : w === 'sinks'
            ? 'sink'
            : w === 'views'
              ? 'view'
              : 'materialized_view'
    const expected = objectKind === 'materialized_view' ? 3 : 2
    if (tokens.length > expected)
      throw syntaxError(text.slice(tokens[expected].start, tokens[expected].end), base + tokens[expected].start + 1)
    return { kind: 'show_objects', objectKind }
  }
  if (is('describe') || is('desc')) {
    const name = tokens[1]
    if (name === undefined) throw syntaxError('', base + text.length + 1)
    const ident = qualifiedName(tokens, 1)
    if (ident.next < tokens.length)
      throw syntaxError(
        text.slice(tokens[ident.next].start, tokens[ident.next].end),
        base + tokens[ident.next].start + 1,
      )
    return { kind: 'describe', name: ident.name, position: base + name.start + 1 }
  }
  if (head === 'flush') return { kind: 'flush' }
  if (is('subscribe')) return subscribe(text, base, tokens)
  if (is('explain')) return explain(text, base, tokens)
  if (is('alter source')) return alterSource(text, base, tokens)
  if (is('create secret') || is('create or replace secret') || is('alter secret'))
    return createSecret(text, base, tokens)
  if (is('drop secret')) return dropSecret(text, base, tokens)
  if (is('create token')) return createToken(text, base, tokens)
  if (is('drop token')) return dropToken(text, base, tokens)

  const nodes = pgParse(text, base)
  if (nodes.length === 0) return { kind: 'noop', tag: '' }
  return convertStatement(nodes[0], base, text)
}

/**
 * `JOIN users FOR SYSTEM_TIME AS OF PROCTIME() AS u`: the clause is blanked out and the table's
 * position recorded, so the converter marks that relation as a lookup (a temporal join).
 */
function liftLookups(text: string, base: number): string {
  const tokens = tokenize(text)
  let out = text
  for (let i = 1; i + 6 < tokens.length; i++) {
    if (words(tokens, i, 4) !== 'for system_time as of') continue
    if (tokens[i + 4].value !== 'proctime' || tokens[i + 5].value !== '(' || tokens[i + 6].value !== ')') {
      throw new SluiceError(SqlState.feature_not_supported, 'only FOR SYSTEM_TIME AS OF PROCTIME() is supported', {
        position: base + tokens[i].start + 1,
      })
    }
    const nameStart = tokens[i - 2]?.value === '.' && i >= 3 ? tokens[i - 3].start : tokens[i - 1].start
    markLookup(base + nameStart)
    out = blank(out, tokens[i].start, tokens[i + 6].end)
  }
  return out
}

/**
 * The Flink / Feldera window form `TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '1' MINUTE))`
 * becomes `TUMBLE(bids, ts, INTERVAL '1' MINUTE)` by blanking the extra words and parentheses,
 * so PostgreSQL's grammar parses it and every offset stays where the user wrote it.
 */
function liftFlinkWindows(text: string): string {
  let tokens = tokenize(text)
  let out = text
  for (let i = 0; i + 3 < tokens.length; i++) {
    const t = tokens[i]
    if (!(
      t.type === 'word' &&
      t.value === 'table' &&
      tokens[i + 1].value === '(' &&
      ['tumble', 'hop', 'session'].includes(tokens[i + 2].value) &&
      tokens[i + 3].value === '('
    ))
      continue
    const close = tokens.findIndex((x, k) => k > i + 1 && x.type === 'punct' && x.value === ')' && x.depth === t.depth)
    if (close < 0) continue
    for (let k = i + 4; k < close; k++) {
      const x = tokens[k]
      if (x.type === 'word' && x.value === 'table' && x.depth === t.depth + 2) out = blank(out, x.start, x.end)
      if (x.type === 'word' && x.value === 'descriptor' && tokens[k + 1]?.value === '(') {
        const end = tokens.findIndex(
          (y, m) => m > k + 1 && y.type === 'punct' && y.value === ')' && y.depth === x.depth,
        )
        out = blank(out, x.start, tokens[k + 1].end)
        if (end > 0) out = blank(out, tokens[end].start, tokens[end].end)
      }
    }
    out = blank(out, t.start, tokens[i + 1].end)
    out = blank(out, tokens[close].start, tokens[close].end)
    tokens = tokenize(out)
  }
  return out
}

// ---- PostgreSQL statements ----

function convertStatement(node: PgNode, base: number, text: string): StatementBody {
  const c = new Converter(base)
  const [kind, s] = unwrap(node)
  switch (kind) {
    case 'SelectStmt':
      return { kind: 'query', query: c.select(s) }
    case 'InsertStmt': {
      const rel = s.relation as PgNode
      let onConflict: Extract<StatementBody, { kind: 'insert' }>['onConflict']
      if (s.onConflictClause !== undefined) {
        const oc = s.onConflictClause as PgNode
        const infer = oc.infer as PgNode | undefined
        const columns = list(infer?.indexElems).map((ie) => field(ie, 'IndexElem').name as string)
        if (oc.action === 'ONCONFLICT_NOTHING') onConflict = { columns, action: 'nothing' }
        else {
          const set = list(oc.targetList).map((t) => {
            const rt = field(t, 'ResTarget')
            return { column: rt.name as string, expr: c.expr(rt.val as PgNode) }
          })
          onConflict = {
            columns,
            action: 'update',
            set,
            where: oc.whereClause === undefined ? undefined : c.expr(oc.whereClause as PgNode),
          }
        }
      }
      if (s.returningList !== undefined) c.unsupported('INSERT ... RETURNING')
      return {
        kind: 'insert',
        table: rel.relname as string,
        columns: s.cols === undefined ? undefined : list(s.cols).map((t) => field(t, 'ResTarget').name as string),
        source:
          s.selectStmt === undefined ? c.unsupported('INSERT ... DEFAULT VALUES') : c.query(s.selectStmt as PgNode),
        onConflict,
        position: c.pos(rel.location),
      }
    }
    case 'UpdateStmt': {
      const rel = s.relation as PgNode
      if (s.fromClause !== undefined) c.unsupported('UPDATE ... FROM')
      return {
        kind: 'update',
        table: rel.relname as string,
        set: list(s.targetList).map((t) => {
          const rt = field(t, 'ResTarget')
          return { column: rt.name as string, expr: c.expr(rt.val as PgNode) }
        }),
        where: s.whereClause === undefined ? undefined : c.expr(s.whereClause as PgNode),
        position: c.pos(rel.location),
      }
    }
    case 'DeleteStmt': {
      const rel = s.relation as PgNode
      if (s.usingClause !== undefined) c.unsupported('DELETE ... USING')
      return {
        kind: 'delete',
        table: rel.relname as string,
        where: s.whereClause === undefined ? undefined : c.expr(s.whereClause as PgNode),
        position: c.pos(rel.location),
      }
    }
    case 'CreateStmt':
      return createTableBody(c, s, false, undefined, new Map())
    case 'CreateTableAsStmt': {
      if (s.objtype !== 'OBJECT_MATVIEW') return c.unsupported('CREATE TABLE AS')
      const into = s.into as PgNode
      return {
        kind: 'create_materialized_view',
        name: (into.rel as PgNode).relname as string,
        ifNotExists: s.if_not_exists === true,
        columnNames: into.colNames === undefined ? undefined : list(into.colNames).map(str),
        query: c.query(s.query as PgNode),
        watermark: undefined,
        emit: 'changes',
        options: defElems(list(into.options)),
      }
    }
    case 'ViewStmt':
      return {
        kind: 'create_view',
        name: (s.view as PgNode).relname as string,
        columnNames: s.aliases === undefined ? undefined : list(s.aliases).map(str),
        query: c.query(s.query as PgNode),
        orReplace: s.replace === true,
      }
    case 'IndexStmt':
      return createIndexStatement(s, c)
    case 'DropStmt': {
      const t = s.removeType as string
      if (t === 'OBJECT_INDEX') {
        return {
          kind: 'drop_index',
          names: list(s.objects).map((o) => list(field(o, 'List').items).map(str).pop()!),
          ifExists: s.missing_ok === true,
          cascade: s.behavior === 'DROP_CASCADE',
        }
      }
      const objectKind: ObjectKindWord | undefined =
        t === 'OBJECT_TABLE'
          ? 'table'
          : t === 'OBJECT_MATVIEW'
            ? 'materialized_view'
            : t === 'OBJECT_VIEW'
              ? 'view'
              : undefined
      if (objectKind === undefined) return c.unsupported(`DROP ${t.replace('OBJECT_', '')}`)
      return {
        kind: 'drop',
        objectKind,
        names: list(s.objects).map((o) => list(field(o, 'List').items).map(str).pop()!),
        ifExists: s.missing_ok === true,
        cascade: s.behavior === 'DROP_CASCADE',
      }
    }
    case 'VariableSetStmt':
      return setStatement(s, c)
    case 'VariableShowStmt':
      return { kind: 'show_setting', name: (s.name as string).toLowerCase() }
    case 'TransactionStmt': {
      const k = s.kind as string
      if (k === 'TRANS_STMT_BEGIN' || k === 'TRANS_STMT_START') return { kind: 'transaction', action: 'begin' }
      if (k === 'TRANS_STMT_COMMIT') return { kind: 'transaction', action: 'commit' }
      if (k === 'TRANS_STMT_ROLLBACK') return { kind: 'transaction', action: 'rollback' }
      return c.unsupported(`the transaction statement ${k.replace('TRANS_STMT_', '')}`)
    }
    case 'DiscardStmt':
      return { kind: 'noop', tag: 'DISCARD ALL' }
    case 'DeallocateStmt':
      return { kind: 'noop', tag: 'DEALLOCATE' }
    case 'ExplainStmt':
      return {
        kind: 'explain',
        stage: 'all',
        statement: { ...convertStatement(s.query as PgNode, base, text), text, location: base },
      }
    case 'CreateRoleStmt':
    case 'AlterRoleStmt':
    case 'DropRoleStmt':
    case 'GrantStmt':
      return roleStatement(kind, s, c) ?? c.unsupported(kind)
    default:
      return c.unsupported(
        `the statement ${kind
          .replace(/Stmt$/, '')
          .replace(/([a-z])([A-Z])/g, '$1 $2')
          .toUpperCase()}`,
      )
  }
}

function setStatement(s: PgNode, c: Converter): StatementBody {
  const kind = s.kind as string
  const name = ((s.name as string | undefined) ?? '').toLowerCase()
  if (kind === 'VAR_RESET_ALL') return { kind: 'reset_all' }
  if (kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT')
    return { kind: 'set', name, value: undefined, local: s.is_local === true }
  if (kind === 'VAR_SET_MULTI') return { kind: 'noop', tag: 'SET' } // SET TRANSACTION ... and friends: accepted
  const values = list(s.args).map((a) => {
    const [k, body] = unwrap(a)
    if (k === 'A_Const') {
      const e = c.expr(a)
      if (e.kind === 'string') return e.value
      if (e.kind === 'number') return e.text
      if (e.kind === 'bool') return e.value ? 'on' : 'off'
    }
    if (k === 'TypeCast') {
      const inner = c.expr((body.arg as PgNode) ?? {})
      if (inner.kind === 'string') return inner.value
    }
    return c.unsupported('this SET value')
  })
  return {
    kind: 'set',
    name: name === 'time zone' ? 'timezone' : name,
    value: values.join(', '),
    local: s.is_local === true,
  }
}

function defElems(items: PgNode[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const item of items) {
    const d = field(item, 'DefElem')
    const key = ((d.defnamespace as string | undefined) ? `${d.defnamespace as string}.` : '') + (d.defname as string)
    const arg = d.arg as PgNode | undefined
    let value = ''
    if (arg !== undefined) {
      const [k, body] = unwrap(arg)
      if (k === 'String') value = body.sval as string
      else if (k === 'Integer') value = String(body.ival ?? 0)
      else if (k === 'Float') value = String(body.fval)
      else if (k === 'Boolean') value = String(body.boolval)
      else if (k === 'TypeName') value = list(body.names).map(str).join('.')
      else value = JSON.stringify(body)
    }
    out.set(key.toLowerCase(), value)
  }
  return out
}

// ---- Sluice-only statements and clauses ----

/** A possibly schema-qualified name starting at token `i`; the schema is dropped except for system schemas. */
function qualifiedName(tokens: readonly Token[], i: number): { name: string; next: number } {
  const first = tokens[i]
  if (first === undefined || (first.type !== 'word' && first.type !== 'quoted')) {
    throw syntaxError(first === undefined ? '' : first.value, (first?.start ?? 0) + 1)
  }
  if (tokens[i + 1]?.value === '.' && tokens[i + 2] !== undefined) {
    const schema = first.value
    const name = tokens[i + 2].value
    return { name: schema === 'public' ? name : `${schema}.${name}`, next: i + 3 }
  }
  return { name: first.value, next: i + 1 }
}

/** Finds the last top-level `WITH (...)` option list, returns the options and blanks it out. */
function liftOptions(
  text: string,
  tokens: readonly Token[],
  from: number,
): { text: string; options: Map<string, string>; start: number | undefined } {
  for (let i = tokens.length - 1; i >= from; i--) {
    const t = tokens[i]
    if (
      t.depth === 0 &&
      t.type === 'word' &&
      t.value === 'with' &&
      tokens[i + 1]?.value === '(' &&
      tokens[i + 1].type === 'punct'
    ) {
      let close = i + 2
      while (
        close < tokens.length &&
        !(tokens[close].value === ')' && tokens[close].type === 'punct' && tokens[close].depth === 0)
      )
        close++
      if (close >= tokens.length) throw syntaxError('', text.length + 1)
      const options = parseOptions(text, tokens.slice(i + 2, close))
      const end = close === tokens.length - 1 ? text.length : tokens[close].end
      return { text: blank(text, t.start, end), options, start: t.start }
    }
  }
  return { text, options: new Map(), start: undefined }
}

/** `key = value, ...` where keys may be dotted and values are strings, numbers or words. */
function parseOptions(text: string, tokens: readonly Token[]): Map<string, string> {
  const options = new Map<string, string>()
  let i = 0
  while (i < tokens.length) {
    let key = ''
    while (i < tokens.length && tokens[i].value !== '=' && tokens[i].value !== ',') {
      key += tokens[i].type === 'string' ? tokens[i].value : text.slice(tokens[i].start, tokens[i].end)
      i++
    }
    if (tokens[i]?.value !== '=') throw syntaxError(tokens[i]?.value ?? '', (tokens[i]?.start ?? text.length) + 1)
    i++
    let value = ''
    const startTok = tokens[i]
    // `key = SECRET name`: a reference, resolved only when the connector is built (secret-ref.ts).
    const next = tokens[i + 1]
    if (
      startTok?.type === 'word' &&
      startTok.value === 'secret' &&
      next !== undefined &&
      (next.type === 'word' || next.type === 'quoted') &&
      (tokens[i + 2] === undefined || tokens[i + 2].value === ',')
    ) {
      options.set(key.toLowerCase(), secretRef(next.value))
      i += 3
      continue
    }
    while (
      i < tokens.length &&
      !(tokens[i].value === ',' && tokens[i].type === 'punct' && tokens[i].depth === startTok.depth)
    ) {
      value += tokens[i].type === 'string' ? tokens[i].value : text.slice(tokens[i].start, tokens[i].end)
      i++
    }
    if (key === '' || startTok === undefined) throw syntaxError('=', text.length + 1)
    if (value.includes('\u0000'))
      throw new SluiceError(SqlState.invalid_parameter_value, `option "${key}" holds a NUL character`)
    options.set(key.toLowerCase(), value)
    i++ // the comma
  }
  return options
}

/** Lifts `WATERMARK FOR col AS expr` out of a column list (depth 1). */
function liftWatermarkFor(
  text: string,
  tokens: readonly Token[],
  base: number,
): { text: string; watermark: WatermarkClause | undefined } {
  const at = tokens.findIndex(
    (t, i) => t.depth === 1 && t.value === 'watermark' && t.type === 'word' && tokens[i + 1]?.value === 'for',
  )
  if (at < 0) return { text, watermark: undefined }
  const col = tokens[at + 2]
  if (col === undefined || (col.type !== 'word' && col.type !== 'quoted'))
    throw syntaxError(col?.value ?? '', base + (col?.start ?? text.length) + 1)
  if (tokens[at + 3]?.value !== 'as')
    throw syntaxError(tokens[at + 3]?.value ?? '', base + (tokens[at + 3]?.start ?? text.length) + 1)
  const exprStart = tokens[at + 4]
  if (exprStart === undefined) throw syntaxError('', base + text.length + 1)
  let end = at + 4
  // The clause ends at the next comma of the column list, or at the list's closing parenthesis
  // (which the lexer puts back at depth 0).
  const ends = (t: Token): boolean =>
    t.type === 'punct' && ((t.depth === 1 && t.value === ',') || (t.depth === 0 && t.value === ')'))
  while (end < tokens.length && !ends(tokens[end])) end++
  if (end >= tokens.length) throw syntaxError('', base + text.length + 1)
  const exprText = text.slice(exprStart.start, tokens[end - 1].end)
  const expr = parseExpr(exprText, base + exprStart.start)
  // Remove the clause and the comma that separates it from its neighbour.
  let from = tokens[at].start
  let to = tokens[end - 1].end
  if (tokens[end].value === ',') to = tokens[end].end
  else if (tokens[at - 1]?.value === ',') from = tokens[at - 1].start
  return { text: blank(text, from, to), watermark: { column: col.value, expr, position: base + tokens[at].start + 1 } }
}

/** Parses a lone expression located at `base`. */
function parseExpr(exprText: string, base: number): Expr {
  const prefix = 'SELECT '
  const nodes = pgParse(prefix + exprText, base - prefix.length)
  const select = field(nodes[0], 'SelectStmt')
  const targets = list(select.targetList)
  if (targets.length !== 1 || select.fromClause !== undefined) throw syntaxError(exprText, base + 1)
  return new Converter(base - prefix.length).expr(field(targets[0], 'ResTarget').val as PgNode)
}

function createSource(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let i = 2
  let ifNotExists = false
  if (words(tokens, 2, 3) === 'if not exists') {
    ifNotExists = true
    i = 5
  }
  const { name, next } = qualifiedName(tokens, i)
  const withOptions = liftOptions(text, tokens, next)
  const inc = liftIncludes(withOptions.text, base)
  const lifted = { ...withOptions, text: inc.text }
  let columns: ColumnDef[] | undefined
  let watermark: WatermarkClause | undefined
  if (tokens[next]?.value === '(' && (lifted.start === undefined || tokens[next].start < lifted.start)) {
    // Parse the column list with PostgreSQL's CREATE TABLE grammar, keeping offsets.
    const wm = liftWatermarkFor(lifted.text, tokenize(lifted.text), base)
    watermark = wm.watermark
    const head = 'CREATE TABLE'
    const sourceWord = tokens[1]
    const asTable = blank(wm.text, 0, sourceWord.end).replace(/^ {12}/, head)
    const stmt = field(pgParse(asTable, base)[0], 'CreateStmt')
    const body = createTableBody(new Converter(base), stmt, false, watermark, new Map())
    if (body.kind !== 'create_table') throw syntaxError(name, base + 1)
    if (body.primaryKey !== undefined)
      throw new SluiceError(
        SqlState.feature_not_supported,
        'a SOURCE cannot have a PRIMARY KEY (use a TABLE fed by Debezium CDC for keyed data)',
      )
    columns = [...body.columns]
  } else {
    const rest = tokenize(lifted.text).filter((t) => t.start >= tokens[next - 1].end)
    if (rest.length > 0) throw syntaxError(rest[0].value, base + rest[0].start + 1)
  }
  if (lifted.start === undefined)
    throw new SluiceError(SqlState.syntax_error, `CREATE SOURCE ${name} needs WITH (connector = ...)`, {
      position: base + text.length + 1,
    })
  return {
    kind: 'create_source',
    name,
    ifNotExists,
    columns,
    watermark,
    options: lifted.options,
    includes: inc.includes,
  }
}

const INCLUDE_WHAT = ['key', 'partition', 'offset', 'timestamp', 'header'] as const

/**
 * `INCLUDE key AS k INCLUDE header 'trace' AS t ...` after a source's column list (RisingWave's
 * syntax): lifted out and blanked. Without AS a column is called `_key`, `_partition`, `_offset`,
 * `_timestamp` or `_header_<name>`.
 */
function liftIncludes(text: string, base: number): { text: string; includes: IncludeClause[] } {
  const tokens = tokenize(text)
  const includes: IncludeClause[] = []
  let out = text
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (!(t.depth === 0 && t.type === 'word' && t.value === 'include')) continue
    const w = tokens[i + 1]
    const what = INCLUDE_WHAT.find((x) => w?.type === 'word' && w.value === x)
    if (what === undefined) {
      throw new SluiceError(
        SqlState.syntax_error,
        w === undefined ? 'syntax error at end of input' : `syntax error at or near "${w.value}"`,
        {
          position: base + (w?.start ?? text.length) + 1,
          hint: `INCLUDE takes one of ${INCLUDE_WHAT.join(', ')} (header with a name: INCLUDE header 'trace_id' AS trace)`,
        },
      )
    }
    let j = i + 2
    let header: string | undefined
    if (what === 'header') {
      const h = tokens[j]
      if (h?.type !== 'string' || h.value === '')
        throw new SluiceError(SqlState.syntax_error, `INCLUDE header needs the header's name as a string literal`, {
          position: base + (h?.start ?? text.length) + 1,
        })
      header = h.value
      j++
    }
    let alias = what === 'header' ? `_header_${header ?? ''}` : `_${what}`
    if (tokens[j]?.type === 'word' && tokens[j].value === 'as') {
      const a = tokens[j + 1]
      if (a === undefined || (a.type !== 'word' && a.type !== 'quoted'))
        throw syntaxError(a?.value ?? '', base + (a?.start ?? text.length) + 1)
      alias = a.value
      j += 2
    }
    includes.push({ what, header, alias, position: base + t.start + 1 })
    out = blank(out, t.start, tokens[j - 1].end)
    i = j - 1
  }
  return { text: out, includes }
}

function createTable(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let t = text
  let appendOnly = false
  // Trailing APPEND ONLY (before or after a WITH clause).
  const ao = tokens.findIndex((tok, i) => tok.depth === 0 && tok.value === 'append' && tokens[i + 1]?.value === 'only')
  if (ao >= 0) {
    appendOnly = true
    t = blank(t, tokens[ao].start, tokens[ao + 1].end)
  }
  const lifted = liftOptions(t, tokenize(t), 2)
  const wm = liftWatermarkFor(lifted.text, tokenize(lifted.text), base)
  const nodes = pgParse(wm.text, base)
  const [kind, s] = unwrap(nodes[0])
  if (kind !== 'CreateStmt') return convertStatement(nodes[0], base, text)
  return createTableBody(new Converter(base), s, appendOnly, wm.watermark, lifted.options)
}

function createTableBody(
  c: Converter,
  s: PgNode,
  appendOnly: boolean,
  watermark: WatermarkClause | undefined,
  options: Options,
): StatementBody {
  const rel = s.relation as PgNode
  const columns: ColumnDef[] = []
  let primaryKey: string[] | undefined
  for (const el of list(s.tableElts)) {
    const [k, body] = unwrap(el)
    if (k === 'ColumnDef') {
      const col = c.columnDef(body)
      columns.push(col)
      if (col.primaryKey) primaryKey = [...(primaryKey ?? []), col.name]
    } else if (k === 'Constraint' && body.contype === 'CONSTR_PRIMARY') {
      primaryKey = list(body.keys).map(str)
    } else {
      c.unsupported(`the table element ${k}`)
    }
  }
  if (s.inhRelations !== undefined) c.unsupported('INHERITS')
  if (s.partspec !== undefined) c.unsupported('PARTITION BY')
  return {
    kind: 'create_table',
    name:
      rel.schemaname !== undefined && rel.schemaname !== 'public'
        ? `${rel.schemaname as string}.${rel.relname as string}`
        : (rel.relname as string),
    ifNotExists: s.if_not_exists === true,
    columns,
    primaryKey,
    appendOnly,
    watermark,
    options,
  }
}

function createMaterializedView(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let t = text
  let emit: 'changes' | 'on_window_close' = 'changes'
  let watermark: number | undefined
  let end = tokens.length
  // Trailing clauses, in either order: EMIT CHANGES | EMIT ON WINDOW CLOSE, WATERMARK <duration>.
  for (let pass = 0; pass < 2; pass++) {
    const emitAt = lastTopLevel(tokens, 'emit', end)
    if (emitAt >= 0 && emitAt < end) {
      const w = words(tokens, emitAt + 1, 3)
      if (w === 'on window close') emit = 'on_window_close'
      else if (!w.startsWith('changes'))
        throw syntaxError(tokens[emitAt + 1]?.value ?? '', base + (tokens[emitAt + 1]?.start ?? text.length) + 1)
      t = blank(t, tokens[emitAt].start, tokens[end - 1].end)
      end = emitAt
      continue
    }
    const wmAt = lastTopLevel(tokens, 'watermark', end)
    if (wmAt >= 0 && wmAt < end) {
      const durText = text.slice(tokens[wmAt + 1]?.start ?? text.length, tokens[end - 1].end)
      if (durText.trim() === '') throw syntaxError('', base + text.length + 1)
      const cleaned = durText
        .replace(/^\s*interval\s+/i, '')
        .trim()
        .replace(/^'(.*)'$/s, '$1')
      watermark = parseDurationMicros(cleaned, base + tokens[wmAt].start + 1)
      t = blank(t, tokens[wmAt].start, tokens[end - 1].end)
      end = wmAt
    }
  }
  const nodes = pgParse(t, base)
  const body = convertStatement(nodes[0], base, t)
  if (body.kind !== 'create_materialized_view') throw syntaxError(text, base + 1)
  return { ...body, watermark, emit }
}

/** The last depth-0 occurrence of word `w` before token `end` that is not inside the query's own clauses. */
function lastTopLevel(tokens: readonly Token[], w: string, end: number): number {
  for (let i = end - 1; i >= 0; i--) {
    if (tokens[i].depth === 0 && tokens[i].type === 'word' && tokens[i].value === w) return i
  }
  return -1
}

function createSink(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const { name, next } = qualifiedName(tokens, 2)
  const lifted = liftOptions(text, tokens, next)
  const mode = tokens[next]?.value
  if (mode === 'from') {
    const from = qualifiedName(tokens, next + 1)
    return { kind: 'create_sink', name, from: from.name, query: undefined, options: lifted.options }
  }
  if (mode === 'as') {
    const queryText = blank(lifted.text, 0, tokens[next].end)
    const nodes = pgParse(queryText, base)
    return {
      kind: 'create_sink',
      name,
      from: undefined,
      query: new Converter(base).query(nodes[0]),
      options: lifted.options,
    }
  }
  throw syntaxError(mode ?? '', base + (tokens[next]?.start ?? text.length) + 1)
}

function dropSluiceObject(tokens: readonly Token[], base: number): StatementBody {
  const objectKind: ObjectKindWord = tokens[1].value === 'source' ? 'source' : 'sink'
  let i = 2
  let ifExists = false
  if (words(tokens, 2, 2) === 'if exists') {
    ifExists = true
    i = 4
  }
  const names: string[] = []
  for (;;) {
    const n = qualifiedName(tokens, i)
    names.push(n.name)
    i = n.next
    if (tokens[i]?.value !== ',') break
    i++
  }
  let cascade = false
  if (tokens[i]?.value === 'cascade') {
    cascade = true
    i++
  } else if (tokens[i]?.value === 'restrict') i++
  if (i < tokens.length) throw syntaxError(tokens[i].value, base + tokens[i].start + 1)
  return { kind: 'drop', objectKind, names, ifExists, cascade }
}

function showCreate(tokens: readonly Token[], base: number): StatementBody {
  const w = words(tokens, 2, 2)
  let objectKind: ObjectKindWord
  let i: number
  if (w === 'materialized view') {
    objectKind = 'materialized_view'
    i = 4
  } else if (
    tokens[2]?.value === 'source' ||
    tokens[2]?.value === 'table' ||
    tokens[2]?.value === 'sink' ||
    tokens[2]?.value === 'view'
  ) {
    objectKind = tokens[2].value
    i = 3
  } else throw syntaxError(tokens[2]?.value ?? '', base + (tokens[2]?.start ?? 0) + 1)
  const { name, next } = qualifiedName(tokens, i)
  if (next < tokens.length) throw syntaxError(tokens[next].value, base + tokens[next].start + 1)
  return { kind: 'show_create', objectKind, name }
}

function subscribe(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let i = 1
  if (tokens[i]?.value === 'to') i++
  if (tokens[i] === undefined) throw syntaxError('', base + text.length + 1)
  if (tokens[i].value === '(') {
    const close = tokens.findIndex((t, k) => k > i && t.value === ')' && t.depth === 0)
    if (close < 0) throw syntaxError('', base + text.length + 1)
    const options = subscribeWith(text, base, tokens, close + 1)
    const inner = blank(blank(text, 0, tokens[i].end), tokens[close].start, text.length)
    const nodes = pgParse(inner, base)
    return { kind: 'subscribe', name: undefined, query: new Converter(base).query(nodes[0]), options }
  }
  const { name, next } = qualifiedName(tokens, i)
  return { kind: 'subscribe', name, query: undefined, options: subscribeWith(text, base, tokens, next) }
}

/** The optional `WITH (...)` after SUBSCRIBE's target; anything else there is a syntax error. */
function subscribeWith(text: string, base: number, tokens: readonly Token[], at: number): Options {
  const t = tokens[at]
  if (t === undefined || t.value === ';') return new Map()
  if (t.value !== 'with' || tokens[at + 1]?.value !== '(') throw syntaxError(t.value, base + t.start + 1)
  const lifted = liftOptions(text, tokens, at)
  for (let k = at; k < tokens.length; k++) {
    const x = tokens[k]
    if (x.value !== ';' && lifted.text.slice(x.start, x.end).trim() !== '')
      throw syntaxError(x.value, base + x.start + 1)
  }
  return lifted.options
}

function explain(text: string, base: number, tokens: readonly Token[]): StatementBody {
  let i = 1
  let stage: ExplainStage = 'all'
  const w = tokens[1]?.value
  const stages: Record<string, ExplainStage> = {
    bound: 'bound',
    logical: 'logical',
    optimized: 'optimized',
    stream: 'stream',
    physical: 'physical',
    plan: 'all',
  }
  if (w !== undefined && tokens[1].type === 'word' && stages[w] !== undefined) {
    stage = stages[w]
    i = 2
  } else if (w === '(') {
    return convertStatement(pgParse(text, base)[0], base, text)
  }
  if (tokens[i] === undefined) throw syntaxError('', base + text.length + 1)
  const innerText = text.slice(tokens[i].start)
  const inner = parseOne(innerText, base + tokens[i].start)
  return { kind: 'explain', stage, statement: { ...inner, text: innerText, location: base + tokens[i].start } }
}

function alterSource(text: string, base: number, tokens: readonly Token[]): StatementBody {
  const { name, next } = qualifiedName(tokens, 2)
  const action = tokens[next]
  if (action?.type === 'word' && ['drop', 'alter', 'rename', 'set'].includes(action.value)) {
    throw new SluiceError(
      SqlState.feature_not_supported,
      `ALTER SOURCE ... ${action.value.toUpperCase()} is not supported: a source's schema evolves additively (ADD COLUMN)`,
      {
        position: base + action.start + 1,
        hint: 'to change or drop a column, create a new source and views over it',
      },
    )
  }
  if (words(tokens, next, 2) !== 'add column' && tokens[next]?.value !== 'add')
    throw syntaxError(tokens[next]?.value ?? '', base + (tokens[next]?.start ?? text.length) + 1)
  const colStart = tokens[next + 1]?.value === 'column' ? next + 2 : next + 1
  const colText = `CREATE TABLE x (${text.slice(tokens[colStart].start)})`
  const stmt = field(pgParse(colText, base + tokens[colStart].start - 16)[0], 'CreateStmt')
  const col = new Converter(base + tokens[colStart].start - 16).columnDef(field(list(stmt.tableElts)[0], 'ColumnDef'))
  return { kind: 'alter_source_add_column', source: name, column: col }
}

export type { Query }
