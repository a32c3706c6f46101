/**
 * Test support: evaluates an expression over the sample rows in Sluice and in PostgreSQL and
 * lists every difference (result type, printed value per row, or SQLSTATE per row).
 */
import type { CompileContext, RowErrors } from './compile.ts'
import type { Outcome } from './testing.ts'
import { Oracle, COLUMNS, ROWS, TestBinder, parseExpr, sampleChunkColumns, valuesSql } from './testing.ts'
import { SluiceError } from '../errors.ts'
import { makeChunk } from '../chunk.ts'
import { compileExpr } from './compile.ts'
import { formatText } from '../types/text.ts'
import { formatTypeName } from '../types/oid.ts'
import { LOG_ERROR, POWER_ERROR, SUBSTRING_ERROR } from './helpers.ts'

/** Codes Sluice reports as 22023 until errors.ts lists them (see helpers.ts). */
const PENDING: Record<string, string> = { '2201E': LOG_ERROR, '2201F': POWER_ERROR, '22011': SUBSTRING_ERROR }

function sameCode(ours: string, pg: string): boolean {
  return ours === pg || PENDING[pg] === ours
}

export class OracleCheck {
  private constructor(
    private readonly oracle: Oracle,
    private readonly ctx: CompileContext,
  ) {}

  static async open(timezone = 'UTC'): Promise<OracleCheck> {
    return new OracleCheck(await Oracle.open(timezone), { params: [], timezone, now: Date.UTC(2024, 5, 1, 12) * 1000 })
  }

  close(): Promise<void> {
    return this.oracle.close()
  }

  /** Differences between Sluice and PostgreSQL for `sql` over every sample row (empty = equal). */
  async diff(sql: string): Promise<string[]> {
    const expected: Outcome[] = []
    for (const row of ROWS) expected.push(await this.oracle.one(`SELECT ${sql} FROM ${valuesSql(row)}`))
    const pgType = await this.oracle.one(`SELECT pg_typeof(${sql})::text FROM ${valuesSql(ROWS[2])}`)
    const ours = await this.evaluate(sql)
    const out: string[] = []
    if ('bindError' in ours) {
      const codes = new Set(expected.map((x) => (x.ok ? 'ok' : x.code)))
      if (!codes.has(ours.bindError.code))
        out.push(`bind: ours ${ours.bindError.code} ${ours.bindError.message}; pg ${[...codes].join(',')}`)
      return out
    }
    if (pgType.ok && pgType.text !== ours.type) out.push(`type: ours ${ours.type}, pg ${pgType.text}`)
    ROWS.forEach((_r, i) => {
      const want = expected[i]
      const got = ours.rows[i]
      const w = want.ok ? `= ${want.text}` : `! ${want.code} ${want.message}`
      const g = got.ok ? `= ${got.text}` : `! ${got.code} ${got.message}`
      const same = want.ok && got.ok ? want.text === got.text : !want.ok && !got.ok && sameCode(got.code, want.code)
      if (!same) out.push(`row ${i}: ours ${g} | pg ${w}`)
    })
    return out
  }

  /** Sluice's result: the type and, per row, the printed value or the error. */
  async evaluate(sql: string): Promise<{ type: string; rows: Outcome[] } | { bindError: SluiceError }> {
    let bound
    try {
      bound = new TestBinder(this.ctx).bind(await parseExpr(sql))
    } catch (e) {
      if (e instanceof SluiceError) return { bindError: e }
      throw e
    }
    const chunk = makeChunk(sampleChunkColumns(this.ctx.timezone))
    const errors: RowErrors = { rows: [], errors: [] }
    const values = compileExpr(bound, this.ctx)(chunk, errors)
    const rows = values.map((v, i): Outcome => {
      const at = errors.rows.indexOf(i)
      if (at >= 0) return { ok: false, code: errors.errors[at].code, message: errors.errors[at].message }
      return { ok: true, text: v === null ? null : formatText(bound.type, v, this.ctx.timezone) }
    })
    return { type: bound.type.kind === 'unknown' ? 'unknown' : formatTypeName(bound.type), rows }
  }
}

export { COLUMNS }
