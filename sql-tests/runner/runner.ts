/**
 * Runs .slt files against a SqlClient: executes each record, compares results as format.ts
 * describes, and reports failures as `file.slt:LINE` with the expected and actual text. With
 * `complete`, it instead rewrites the expected parts of the file from the actual results and
 * leaves every other byte as it was. With `line`, it checks only the record at that line; the
 * records before it run as unchecked setup.
 */
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative, resolve } from 'node:path'
import type { SqlClient, SqlOutcome, SqlRows } from './client.ts'
import type { ErrorPattern, QueryRecord, SltRecord, StatementRecord } from './parser.ts'
import { isSqlError } from './client.ts'
import { SltParseError, parseSlt } from './parser.ts'
import {
  comparisonLines,
  formatRows,
  hashLine,
  hashValues,
  isHashLine,
  normalize,
  resultLines,
  sortRows,
  valueCount,
} from './format.ts'
import { lineDiff } from './diff.ts'

export interface RunOptions {
  /**
   * The engine name `skipif` / `onlyif` compare with: `sluice` and `postgres` for this project's
   * files, `postgresql` for the classic corpus (its name for PostgreSQL-compatible engines).
   */
  readonly engine: 'sluice' | 'postgres' | 'postgresql'
  /** Rewrite the file's expected outputs from the actual results instead of checking them. */
  readonly complete?: boolean
  /** 1-based line: check only the record at (or after) it; earlier records run as unchecked setup. */
  readonly line?: number
  /** Initial hash threshold (0 = never hash) until a `hash-threshold` record changes it. */
  readonly hashThreshold?: number
}

export interface SltFailure {
  /** The file as given (relative paths stay relative). */
  readonly file: string
  /** 1-based line of the record's header. */
  readonly line: number
  readonly sql: string
  readonly expected: string
  readonly actual: string
  /** `file.slt:LINE: what went wrong`, with a diff for result mismatches. */
  readonly message: string
}

export interface SltResult {
  readonly passed: number
  readonly failed: number
  /** Records skipped by skipif/onlyif. */
  readonly skipped: number
  readonly failures: readonly SltFailure[]
  /** Files rewritten by `complete`. */
  readonly rewritten: readonly string[]
}

interface Edit {
  readonly start: number
  readonly end: number
  readonly lines: readonly string[]
}

interface State {
  hashThreshold: number
  halted: boolean
  readonly labels: Map<string, string>
  passed: number
  failed: number
  skipped: number
  readonly failures: SltFailure[]
  readonly rewritten: string[]
}

/** Runs one .slt file (and the files it includes) against `client`. */
export async function runSltFile(path: string, client: SqlClient, options: RunOptions): Promise<SltResult> {
  const state: State = {
    hashThreshold: options.hashThreshold ?? 0,
    halted: false,
    labels: new Map(),
    passed: 0,
    failed: 0,
    skipped: 0,
    failures: [],
    rewritten: [],
  }
  await runFile(path, client, options, state, options.line)
  return {
    passed: state.passed,
    failed: state.failed,
    skipped: state.skipped,
    failures: state.failures,
    rewritten: state.rewritten,
  }
}

async function runFile(
  path: string,
  client: SqlClient,
  options: RunOptions,
  state: State,
  line: number | undefined,
): Promise<void> {
  const text = readFileSync(path, 'utf8')
  let records: SltRecord[]
  try {
    records = parseSlt(text, path)
  } catch (e) {
    if (!(e instanceof SltParseError)) throw e
    state.failed++
    state.failures.push({ file: path, line: e.line, sql: '', expected: '', actual: '', message: e.message })
    return
  }
  const edits: Edit[] = []
  const complete = options.complete === true && line === undefined

  for (const record of records) {
    if (state.halted) break
    // The target is the first record ending past the line (a comment line selects the next record).
    const target = line === undefined ? undefined : line - 1 < record.endLine
    const check = target !== false
    if (!applies(record, options.engine)) {
      if (check) state.skipped++
      continue
    }
    switch (record.kind) {
      case 'hash-threshold':
        state.hashThreshold = record.threshold
        break
      case 'halt':
        state.halted = true
        break
      case 'sleep':
        await new Promise((r) => setTimeout(r, record.ms))
        break
      case 'include':
        for (const file of expandInclude(path, record.pattern)) {
          await runFile(file, client, options, state, check ? undefined : Number.MAX_SAFE_INTEGER)
        }
        break
      case 'statement':
      case 'query': {
        let outcome: SqlOutcome
        try {
          outcome = await client.run(record.sql)
        } catch (e) {
          // The client itself broke (connection lost): nothing after this can run.
          const message = `${path}:${record.headerLine + 1}: client failed: ${e instanceof Error ? e.message : String(e)}`
          state.failed++
          state.failures.push({
            file: path,
            line: record.headerLine + 1,
            sql: record.sql,
            expected: '',
            actual: '',
            message,
          })
          state.halted = true
          break
        }
        const verdict =
          record.kind === 'statement' ? judgeStatement(record, outcome) : judgeQuery(record, outcome, state)
        if (!check) break
        if (complete) {
          if (verdict.edits.length > 0) edits.push(...verdict.edits)
          state.passed++
          break
        }
        if (verdict.failure === undefined) state.passed++
        else {
          state.failed++
          const f = verdict.failure
          state.failures.push({
            file: path,
            line: record.headerLine + 1,
            sql: record.sql,
            expected: f.expected,
            actual: f.actual,
            message: `${path}:${record.headerLine + 1}: ${f.message}`,
          })
        }
        break
      }
    }
    if (target === true) break
  }
  if (complete && edits.length > 0) {
    writeFileSync(path, applyEdits(text, edits))
    state.rewritten.push(path)
  }
}

function applies(record: SltRecord, engine: string): boolean {
  for (const c of record.conditions) {
    if (c.kind === 'skipif' && c.engine === engine) return false
    if (c.kind === 'onlyif' && c.engine !== engine) return false
  }
  return true
}

interface Verdict {
  readonly failure?: { readonly message: string; readonly expected: string; readonly actual: string }
  /** What `complete` would change so the record matches the actual outcome. */
  readonly edits: readonly Edit[]
}

const describeError = (e: { code: string; message: string }): string => `${e.code}: ${e.message}`

function errorMatches(pattern: ErrorPattern, error: { code: string; message: string }): boolean {
  switch (pattern.kind) {
    case 'any':
      return true
    case 'sqlstate':
      return error.code === pattern.code
    case 'regex':
      return pattern.regex.test(error.message)
  }
}

function describePattern(pattern: ErrorPattern): string {
  switch (pattern.kind) {
    case 'any':
      return 'an error'
    case 'sqlstate':
      return `SQLSTATE ${pattern.code}`
    case 'regex':
      return `an error matching /${pattern.source}/`
  }
}

/** Header of a record expecting this error, the SQLSTATE being the stable part to pin. */
function errorHeader(kind: 'statement' | 'query', code: string): string {
  return `${kind} error ${code}`
}

/** Checks an expected error (`statement error` / `query error`) against the outcome. */
function judgeError(record: StatementRecord | QueryRecord, pattern: ErrorPattern, outcome: SqlOutcome): Verdict {
  const header = { start: record.headerLine, end: record.headerLine + 1 }
  const dropBlock =
    record.separatorLine === undefined ? [] : [{ start: record.separatorLine, end: record.endLine, lines: [] }]
  if (!isSqlError(outcome)) {
    const failure = {
      message: `expected ${describePattern(pattern)}, but the ${record.kind} succeeded`,
      expected: describePattern(pattern),
      actual: 'ok',
    }
    if (record.kind === 'statement') return { failure, edits: [{ ...header, lines: ['statement ok'] }, ...dropBlock] }
    const types = 'T'.repeat(outcome.columns.length)
    return {
      failure,
      edits: [
        { ...header, lines: [`query ${types} rowsort`] },
        ...queryOutputEdits(record, outcome, types, 'rowsort', 0, false),
      ],
    }
  }
  const err = outcome.error
  const messageOk =
    record.separatorLine === undefined || normalize(record.expected.join(' ')) === normalize(err.message)
  if (errorMatches(pattern, err) && messageOk) return { edits: [] }
  const edits: Edit[] = [{ ...header, lines: [errorHeader(record.kind, err.code)] }]
  if (record.separatorLine !== undefined)
    edits.push({ start: record.separatorLine + 1, end: record.endLine, lines: [err.message] })
  const expected =
    describePattern(pattern) + (record.separatorLine === undefined ? '' : `: ${record.expected.join('\n')}`)
  return {
    failure: { message: `expected ${expected}, got ${describeError(err)}`, expected, actual: describeError(err) },
    edits,
  }
}

function judgeStatement(record: StatementRecord, outcome: SqlOutcome): Verdict {
  if (record.error !== undefined) return judgeError(record, record.error, outcome)
  if (!isSqlError(outcome)) return { edits: [] }
  return {
    failure: {
      message: `statement failed: ${describeError(outcome.error)}`,
      expected: 'ok',
      actual: describeError(outcome.error),
    },
    edits: [
      { start: record.headerLine, end: record.headerLine + 1, lines: [errorHeader('statement', outcome.error.code)] },
    ],
  }
}

/** The lines a result prints as under a record's sort mode and the hash threshold. */
function outputLines(
  rows: SqlRows,
  types: string,
  mode: QueryRecord['sortMode'],
  threshold: number,
  forceHash: boolean,
): string[] {
  const sorted = sortRows(formatRows(rows.rows, types), mode)
  if (forceHash || (threshold > 0 && valueCount(sorted) > threshold)) return [hashLine(sorted)]
  return mode === 'valuesort' ? sorted.map((r) => r[0]) : resultLines(sorted)
}

/** Edits that make a query record's expected block equal `lines` (adding `----` if missing). */
function queryOutputEdits(
  record: QueryRecord,
  rows: SqlRows,
  types: string,
  mode: QueryRecord['sortMode'],
  threshold: number,
  forceHash: boolean,
): Edit[] {
  const lines = outputLines(rows, types, mode, threshold, forceHash)
  if (record.separatorLine !== undefined) return [{ start: record.separatorLine + 1, end: record.endLine, lines }]
  if (lines.length === 0) return []
  return [{ start: record.endLine, end: record.endLine, lines: ['----', ...lines] }]
}

function judgeQuery(record: QueryRecord, outcome: SqlOutcome, state: State): Verdict {
  if (record.error !== undefined) return judgeError(record, record.error, outcome)
  if (isSqlError(outcome)) {
    const edits: Edit[] = [
      { start: record.headerLine, end: record.headerLine + 1, lines: [errorHeader('query', outcome.error.code)] },
    ]
    if (record.separatorLine !== undefined) edits.push({ start: record.separatorLine, end: record.endLine, lines: [] })
    return {
      failure: {
        message: `query failed: ${describeError(outcome.error)}`,
        expected: record.expected.join('\n'),
        actual: describeError(outcome.error),
      },
      edits,
    }
  }
  const problems: string[] = []
  let types = record.types
  if (types.length !== outcome.columns.length) {
    problems.push(
      `expected ${types.length} columns (${types}), got ${outcome.columns.length}: ${outcome.columns.join(', ')}`,
    )
    types = (types + 'T'.repeat(outcome.columns.length)).slice(0, outcome.columns.length)
  }
  const sorted = sortRows(formatRows(outcome.rows, types), record.sortMode)
  const hashed = (state.hashThreshold > 0 && valueCount(sorted) > state.hashThreshold) || isHashLine(record.expected)
  let actualLines: string[]
  let same: boolean
  if (hashed) {
    actualLines = [hashLine(sorted)]
    same = record.expected.length === 1 && normalize(record.expected[0]) === actualLines[0]
  } else {
    actualLines = outputLines(outcome, types, record.sortMode, 0, false)
    same = sameLines(comparisonLines(record.expected, record.sortMode), comparisonLines(actualLines, record.sortMode))
    // sqllogictest's original layout lists one value per line.
    if (
      !same &&
      record.sortMode !== 'valuesort' &&
      outcome.columns.length > 1 &&
      record.expected.length === valueCount(sorted)
    ) {
      same = sameLines(record.expected.map(normalize), sorted.flat().map(normalize))
    }
  }
  if (!same) problems.push(`query result mismatch\n${lineDiff(record.expected.map(normalize), actualLines)}`)
  if (record.label !== undefined) {
    const digest = hashValues(sorted.flat())
    const seen = state.labels.get(record.label)
    if (seen === undefined) state.labels.set(record.label, digest)
    else if (seen !== digest) problems.push(`result differs from an earlier query labelled "${record.label}"`)
  }
  if (problems.length === 0) return { edits: [] }
  const edits: Edit[] = []
  if (types !== record.types) {
    const header = ['query', types, record.sortMode, ...(record.label === undefined ? [] : [record.label])].join(' ')
    edits.push({ start: record.headerLine, end: record.headerLine + 1, lines: [header] })
  }
  if (!same)
    edits.push(
      ...queryOutputEdits(record, outcome, types, record.sortMode, state.hashThreshold, isHashLine(record.expected)),
    )
  return {
    failure: { message: problems.join('\n'), expected: record.expected.join('\n'), actual: actualLines.join('\n') },
    edits,
  }
}

function sameLines(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((l, i) => l === b[i])
}

/** Applies line edits (non-overlapping, any order) to file text, keeping its line endings. */
export function applyEdits(text: string, edits: readonly Edit[]): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n'
  const trailing = text.endsWith('\n')
  const lines = text.split(/\r?\n/)
  if (trailing) lines.pop()
  const sorted = [...edits].sort((a, b) => b.start - a.start || b.end - a.end)
  for (const e of sorted) lines.splice(e.start, e.end - e.start, ...e.lines)
  return lines.join(eol) + (trailing ? eol : '')
}

/** Resolves `include <glob>` relative to the including file; `*` and `?` match in the file name. */
function expandInclude(from: string, pattern: string): string[] {
  const full = resolve(dirname(from), pattern)
  const dir = dirname(full)
  const name = basename(full)
  if (!/[*?]/.test(name)) return [relativeIfInside(full)]
  const re = new RegExp(
    '^' +
      name
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]') +
      '$',
  )
  return readdirSync(dir)
    .filter((f) => re.test(f) && statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => relativeIfInside(join(dir, f)))
}

function relativeIfInside(path: string): string {
  const rel = relative(process.cwd(), path)
  return rel.startsWith('..') ? path : rel
}
