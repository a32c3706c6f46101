/**
 * TLS from the command line: `sluice start --tls-cert c.pem --tls-key k.pem` with a self-signed
 * pair (made as docs/operations.md shows): psql connects with sslmode=require (TLS 1.3) and with
 * verify-full against the certificate, node-postgres with ssl, and the HTTP API answers over
 * HTTPS. With --tls-required a client without TLS is refused.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { request } from 'node:https'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SluiceProcess } from './sluice-process.ts'
import { TempDirs } from './support.ts'

const dirs = new TempDirs('sluice-tls-')
const procs: SluiceProcess[] = []
let certDir: string

afterAll(async () => {
  for (const p of procs) await p.kill()
  dirs.removeAll()
})

beforeAll(() => {
  certDir = dirs.make()
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      join(certDir, 'key.pem'),
      '-out',
      join(certDir, 'cert.pem'),
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  )
})

function psql(conninfo: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('psql', [conninfo, '-X', '-A', '-t', ...args], {
    encoding: 'utf8',
    env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
  })
  return { status: r.status, out: `${r.stdout}${r.stderr}` }
}

function httpsSql(port: number, sql: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v1/sql',
        method: 'POST',
        ca: readFileSync(join(certDir, 'cert.pem')),
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        let body = ''
        res.on('data', (d: Buffer) => (body += d.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('error', reject)
    req.end(JSON.stringify({ sql }))
  })
}

describe('TLS from the command line', () => {
  it('serves pgwire with sslmode=require and verify-full, and HTTPS', async () => {
    const sluice = await SluiceProcess.create(dirs.make(), [
      '--tls-cert',
      join(certDir, 'cert.pem'),
      '--tls-key',
      join(certDir, 'key.pem'),
    ])
    procs.push(sluice)
    await sluice.start()
    const base = `host=127.0.0.1 port=${sluice.pgPort} user=sluice dbname=sluice`
    const required = psql(`${base} sslmode=require`, '-c', 'SELECT 41 + 1', '-c', '\\conninfo')
    expect(required.out).toContain('42')
    expect(required.out).toMatch(/SSL connection \(protocol: TLSv1\.3/)
    expect(required.status).toBe(0)
    const verified = psql(`${base} sslmode=verify-full sslrootcert=${join(certDir, 'cert.pem')}`, '-c', 'SELECT 1')
    expect(verified.status, verified.out).toBe(0)

    const client = new pg.Client({
      host: '127.0.0.1',
      port: sluice.pgPort,
      user: 'sluice',
      database: 'sluice',
      ssl: { ca: readFileSync(join(certDir, 'cert.pem')) },
    })
    await client.connect()
    expect((await client.query('SELECT 7 AS n')).rows).toEqual([{ n: 7 }])
    await client.end()

    const res = await httpsSql(sluice.httpPort, 'SELECT 5 AS five')
    expect(res.status).toBe(200)
    expect(res.body).toContain('five')
  })

  it('refuses clients without TLS when it is required', async () => {
    const sluice = await SluiceProcess.create(
      dirs.make(),
      ['--tls-cert', join(certDir, 'cert.pem'), '--tls-key', join(certDir, 'key.pem'), '--tls-required'],
      [],
      { ca: readFileSync(join(certDir, 'cert.pem')) },
    )
    procs.push(sluice)
    await sluice.start()
    const base = `host=127.0.0.1 port=${sluice.pgPort} user=sluice dbname=sluice`
    const plain = psql(`${base} sslmode=disable`, '-c', 'SELECT 1')
    expect(plain.status).not.toBe(0)
    const tls = psql(`${base} sslmode=require`, '-c', 'SELECT 1')
    expect(tls.status, tls.out).toBe(0)
  })
})
