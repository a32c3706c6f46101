/**
 * The extended query protocol's objects: prepared statements (Parse) and portals (Bind). A
 * statement remembers its SQL and the shape the engine described; a portal holds decoded
 * parameters, the chosen result formats and, once executed, the rows still to hand out, so
 * Execute with a row limit can return them in pieces.
 */
import type { PreparedDescription, ResultColumn, Session, StatementResult } from '../../engine/session-api.ts'
import type { DataType, Value } from '../../engine/types/datatype.ts'
import { T } from '../../engine/types/datatype.ts'
import { typeFromOid, typeOid } from '../../engine/types/oid.ts'
import { WireError } from './errors.ts'
import type { FrontendMessage } from './frontend.ts'
import { decodeParam, resultFormat } from './values.ts'

export interface PreparedStatement {
  readonly sql: string
  /** False for an empty query string: Execute answers EmptyQueryResponse. */
  readonly hasQuery: boolean
  readonly paramTypes: readonly DataType[]
  /**
   * What ParameterDescription reports: the OID the client declared in Parse where it declared one
   * (varchar stays 1043 though Sluice reads it as text: pgJDBC refuses a changed type), else the
   * OID of the type the engine inferred.
   */
  readonly paramOids: readonly number[]
  readonly columns: readonly ResultColumn[] | undefined
}

export interface Portal {
  readonly statement: PreparedStatement
  readonly params: readonly Value[]
  /** The format of each result column (0 text, 1 binary), already resolved. */
  readonly formats: readonly number[]
  /** Set by the first Execute; later Executes continue from `sent`. */
  result: StatementResult | undefined
  sent: number
}

type ParseMessage = Extract<FrontendMessage, { kind: 'parse' }>
type BindMessage = Extract<FrontendMessage, { kind: 'bind' }>

/** One connection's prepared statements and portals. The unnamed ones ('') are replaced freely. */
export class ExtendedState {
  private readonly statements = new Map<string, PreparedStatement>()
  private readonly portals = new Map<string, Portal>()

  /** Parse: asks the engine to validate and describe the statement; engine errors surface here. */
  async parse(session: Session, m: ParseMessage): Promise<void> {
    if (m.name !== '' && this.statements.has(m.name))
      throw new WireError('42P05', `prepared statement "${m.name}" already exists`)
    const hints: (DataType | undefined)[] = m.paramOids.map((oid) => {
      if (oid === 0) return undefined
      const t = typeFromOid(oid)
      if (t === undefined) throw new WireError('42704', `type with OID ${oid} does not exist`)
      return t
    })
    let described: PreparedDescription = { paramTypes: [], columns: undefined }
    const hasQuery = !isEmptyQuery(m.sql)
    if (hasQuery) described = await session.describe(m.sql, hints)
    const count = Math.max(described.paramTypes.length, hints.length)
    const paramTypes: DataType[] = []
    for (let i = 0; i < count; i++) paramTypes.push(hints[i] ?? described.paramTypes[i] ?? T.unknown)
    const paramOids = paramTypes.map((t, i) => (m.paramOids[i] ?? 0) || typeOid(t))
    this.statements.set(m.name, { sql: m.sql, hasQuery, paramTypes, paramOids, columns: described.columns })
  }

  /** Bind: decodes parameters with the statement's types and resolves result formats. */
  bind(m: BindMessage, tz: string): void {
    const statement = this.statement(m.statement)
    if (m.portal !== '' && this.portals.has(m.portal))
      throw new WireError('42P03', `cursor "${m.portal}" already exists`)
    const n = m.params.length
    if (m.paramFormats.length > 1 && m.paramFormats.length !== n) {
      throw new WireError('08P01', `bind message has ${m.paramFormats.length} parameter formats but ${n} parameters`)
    }
    if (n !== statement.paramTypes.length) {
      throw new WireError(
        '08P01',
        `bind message supplies ${n} parameters, but prepared statement "${m.statement}" requires ${statement.paramTypes.length}`,
      )
    }
    const params: Value[] = []
    for (let i = 0; i < n; i++) {
      const data = m.params[i]
      const format =
        m.paramFormats.length === 0 ? 0 : m.paramFormats.length === 1 ? m.paramFormats[0] : m.paramFormats[i]
      params.push(data === null ? null : decodeParam(data, statement.paramTypes[i], format, tz))
    }
    const columns = statement.columns ?? []
    const rf = m.resultFormats
    if (rf.length > 1 && rf.length !== columns.length) {
      throw new WireError(
        '08P01',
        `bind message has ${rf.length} result formats but query has ${columns.length} columns`,
      )
    }
    for (const f of rf) if (f !== 0 && f !== 1) throw new WireError('08P01', `unsupported format code: ${f}`)
    const formats = columns.map((c, i) => resultFormat(c.type, rf.length === 0 ? 0 : rf.length === 1 ? rf[0] : rf[i]))
    this.portals.set(m.portal, { statement, params, formats, result: undefined, sent: 0 })
  }

  statement(name: string): PreparedStatement {
    const s = this.statements.get(name)
    if (s === undefined) throw new WireError('26000', `prepared statement "${name}" does not exist`)
    return s
  }

  portal(name: string): Portal {
    const p = this.portals.get(name)
    if (p === undefined) throw new WireError('34000', `portal "${name}" does not exist`)
    return p
  }

  /** Close: closing a name that does not exist is not an error. */
  close(target: 'S' | 'P', name: string): void {
    if (target === 'S') this.statements.delete(name)
    else this.portals.delete(name)
  }

  /** Portals live until the end of the (implicit) transaction, i.e. the Sync outside a block. */
  dropPortals(): void {
    this.portals.clear()
  }
}

/** A query string with nothing but whitespace, semicolons and comments. */
export function isEmptyQuery(sql: string): boolean {
  return (
    sql
      .replace(/--[^\n]*/g, '')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/[\s;]+/g, '') === ''
  )
}
