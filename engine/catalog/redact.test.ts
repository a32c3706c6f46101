import { describe, expect, it } from 'vitest'
import { redactOption, redactSql, redactText } from './redact.ts'

describe('redaction of credentials', () => {
  it('masks the password of URLs and credential options, nothing else', () => {
    const sql =
      "CREATE SINK s FROM v WITH (connector = 'postgres', url = 'postgres://w:p%40ss@db:5432/app', " +
      "properties.sasl.password = 'k''ey', key = 'auction', topic = 'password')"
    const shown = redactSql(sql)
    expect(shown).toContain("url = 'postgres://w:***@db:5432/app'")
    expect(shown).toContain("properties.sasl.password = '***'")
    expect(shown).toContain("key = 'auction'")
    expect(shown).toContain("topic = 'password'")
    expect(shown).not.toContain('p%40ss')
    expect(shown).not.toContain("k''ey")
  })

  it('masks role passwords and secret values, keeps secret references', () => {
    expect(redactSql("CREATE ROLE r LOGIN PASSWORD 'SCRAM-SHA-256$4096:abc'")).toBe(
      "CREATE ROLE r LOGIN PASSWORD '***'",
    )
    expect(redactSql("CREATE SECRET pg AS 'postgres://u:x@h/d'")).toBe("CREATE SECRET pg AS '***'")
    expect(redactSql('CREATE SINK s FROM v WITH (url = SECRET pg)')).toBe('CREATE SINK s FROM v WITH (url = SECRET pg)')
  })

  it('masks URLs inside error text and option values', () => {
    expect(redactText('cannot connect to redis://:hunter2@127.0.0.1:6379')).toBe(
      'cannot connect to redis://:***@127.0.0.1:6379',
    )
    expect(redactText('postgres://u@h/d has no password')).toBe('postgres://u@h/d has no password')
    expect(redactOption('password', 'x')).toBe('***')
    expect(redactOption('url', 'kafka://a:b@h')).toBe('kafka://a:***@h')
  })
})
