/**
 * Known catalog queries of client drivers that use PostgreSQL features Sluice does not have:
 * set-returning functions in the select list over `pg_index.indkey` and `pg_constraint.conkey`
 * (pgJDBC's getPrimaryKeys, getIndexInfo and getBestRowIdentifier call
 * `information_schema._pg_expandarray(...)` and read the composite's fields; SQLAlchemy's
 * get_pk_constraint `unnest(ix.indkey)` with `generate_subscripts`) and int2vector's text form
 * (`ix.indkey::varchar` is `1 2`, not `{1,2}`). Their text is rewritten to read
 * `sluice_catalog.pg_index_keys` / `pg_constraint_keys` (the catalog table with one row per key
 * column: `key_x` the column number, `key_n` its position) instead. Only these exact shapes are
 * touched; any other text passes through unchanged.
 */

interface Rule {
  readonly pattern: RegExp
  readonly replacement: string
}

/** pgJDBC (DatabaseMetaData.getPrimaryKeys, getIndexInfo). */
const PGJDBC: readonly Rule[] = [
  {
    pattern: /\(\s*information_schema\._pg_expandarray\(\s*(\w+)\.(?:indkey|conkey)\s*\)\s*\)\s*\.\s*n\b/gi,
    replacement: '$1.key_n',
  },
  { pattern: /information_schema\._pg_expandarray\(\s*(\w+)\.(?:indkey|conkey)\s*\)/gi, replacement: '$1.key_x' },
  { pattern: /\(\s*(\w+)\.keys\s*\)\s*\.\s*x\b/gi, replacement: '$1.keys' },
  { pattern: /\bpg_catalog\.pg_index\s+i\b/gi, replacement: 'sluice_catalog.pg_index_keys i' },
  { pattern: /\bpg_catalog\.pg_constraint\s+con\b/gi, replacement: 'sluice_catalog.pg_constraint_keys con' },
]

/** SQLAlchemy (PGDialect.get_pk_constraint, get_indexes). */
const SQLALCHEMY_PK: Rule = {
  pattern:
    /select\s+unnest\(\s*ix\.indkey\s*\)\s+attnum\s*,\s*generate_subscripts\(\s*ix\.indkey\s*,\s*1\s*\)\s+ord\s+from\s+pg_index\s+ix\b/gi,
  replacement: 'SELECT ix.key_x attnum, ix.key_n ord FROM sluice_catalog.pg_index_keys ix',
}
const INT2VECTOR_TEXT: Rule = {
  pattern: /\bix\.(indkey|indoption)\s*::\s*varchar\b/gi,
  replacement: "array_to_string(ix.$1, ' ')",
}

export function rewriteDriverQueries(text: string): string {
  if (!/indkey|conkey/i.test(text)) return text
  let out = text
  if (/information_schema\._pg_expandarray\(\s*\w+\.(?:indkey|conkey)\s*\)/i.test(out))
    for (const r of PGJDBC) out = out.replace(r.pattern, r.replacement)
  out = out.replace(SQLALCHEMY_PK.pattern, SQLALCHEMY_PK.replacement)
  return out.replace(INT2VECTOR_TEXT.pattern, INT2VECTOR_TEXT.replacement)
}
