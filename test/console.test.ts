/**
 * The browser console end to end (issue 12): a real Sluice server (demo datagen source and view,
 * checkpoints on, a data directory on disk) and a real headless Chromium (test/browser.ts). The
 * overview lists every object with live numbers; a view created in the SQL console appears there
 * and its live page shows rows that change; a bad statement shows its SQLSTATE and position; the
 * graph page draws a join view's operators; a sink whose Redis goes away shows as failing; the
 * live page reconnects through a server restart; the overview copes with 50 views. Every page's
 * screenshot is written to .cache/artifacts/console/.
 */
import { createServer, type Server, type Socket, connect } from 'node:net'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { Sluice } from '../engine/index.ts'
import { buildHttpApp } from '../server/http/app.ts'
import { startServer, type RunningServer } from '../server/main.ts'
import { createLogger } from '../server/log.ts'
import { ARTIFACTS, launchBrowser } from './browser.ts'
import { TempDirs } from './support.ts'

const dirs = new TempDirs('sluice-console-')
const logger = createLogger({ level: 'warn', destination: { write: () => {} } })
let dataDir = ''
let server: RunningServer
let httpPort = 0
let browser: Browser
let page: Page
/** Uncaught errors of the page's script: none may happen in any test. */
const pageErrors: string[] = []

async function start(port: number): Promise<RunningServer> {
  return startServer({
    dataDir,
    host: '127.0.0.1',
    pgPort: 0,
    httpPort: port,
    demo: true,
    auth: { mode: 'trust' },
    logLevel: 'warn',
    logger,
  })
}

const url = (path: string): string => `http://127.0.0.1:${httpPort}${path}`

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true })
}

/** The text of every body row of the live view table. */
async function viewRows(): Promise<string[]> {
  return page.locator('table.rows tbody tr').allInnerTexts()
}

beforeAll(async () => {
  dataDir = dirs.make()
  server = await start(0)
  httpPort = server.httpPort
  browser = await launchBrowser()
  page = await browser.newPage({ viewport: { width: 1366, height: 900 } })
  page.on('pageerror', (e) => pageErrors.push(e.message))
}, 900_000)

// A failing test leaves a picture of what the browser showed.
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail')
    await shot(`failed-${ctx.task.name.replace(/\W+/g, '-').slice(0, 60)}`).catch(() => {})
})

afterAll(async () => {
  await browser?.close()
  await server?.close()
  dirs.removeAll()
})

describe('the console', () => {
  it('shows every object on the overview with live numbers', async () => {
    await page.goto(url('/'))
    const source = page.locator('table.objects tr[data-object="bid"]')
    const view = page.locator('table.objects tr[data-object="bids_per_channel"]')
    await source.waitFor({ timeout: 20_000 })
    await view.waitFor()
    // The demo view's readers start in the background (on shard threads under --workers 2).
    await expect.poll(() => source.getAttribute('data-state'), { timeout: 20_000 }).toBe('running')
    // Events/s is a rate from the in-process history: it needs two samples, then it is > 0.
    await expect
      .poll(async () => Number((await source.locator('td').nth(3).innerText()).replace(/[^\d.]/g, '')), {
        timeout: 20_000,
      })
      .toBeGreaterThan(0)
    await page.locator('figure[data-chart="Events/s per source"] canvas').first().waitFor({ timeout: 20_000 })
    await expect.poll(async () => page.locator('.checkpoint dd').first().innerText(), { timeout: 20_000 }).not.toBe('–')
    await shot('overview')
  })

  it('runs a CREATE in the SQL console; the view appears on the overview and its live page moves', async () => {
    await page.goto(url('/sql'))
    await page.fill(
      '#sql',
      `CREATE MATERIALIZED VIEW bids_per_2s AS SELECT window_start, count(*) AS bids, max(price) AS top FROM bid GROUP BY TUMBLE(date_time, '2s')`,
    )
    await page.click('#run')
    await page.locator('p.tag', { hasText: 'CREATE MATERIALIZED VIEW' }).waitFor({ timeout: 20_000 })
    await shot('sql')

    await page.click('nav >> text=Overview')
    await page.locator('table.objects tr[data-object="bids_per_2s"]').waitFor({ timeout: 20_000 })

    await page.click('table.objects tr[data-object="bids_per_2s"] >> a:text("bids_per_2s")')
    await page.waitForURL(url('/views/bids_per_2s'))
    await page.locator('table.rows tbody tr').first().waitFor({ timeout: 20_000 })
    const before = await viewRows()
    // A new 2-second window opens and the newest one's count grows: the rows change in place.
    await expect.poll(async () => (await viewRows()).join('\n'), { timeout: 20_000 }).not.toBe(before.join('\n'))
    await page.locator('.stream-status.live').waitFor()
    // The view has a time column: the chart of counts over time is drawn.
    await page.locator('figure.chart canvas').first().waitFor({ timeout: 10_000 })
    // Sorting by a column header orders the rows (descending on the second click).
    await page.click('th >> button:has-text("window_start")')
    await page.click('th >> button:has-text("window_start")')
    await expect.poll(async () => page.locator('th[aria-sort="descending"]').count(), { timeout: 15_000 }).toBe(1)
    // Redrawn within a quarter second; newer windows keep arriving, so compare each read with itself.
    await expect
      .poll(
        async () => {
          const starts = (await page.locator('table.rows tbody tr td:first-child').allInnerTexts()).slice(0, 5)
          return starts.length > 1 && [...starts].sort().reverse().join() === starts.join()
        },
        { timeout: 15_000 },
      )
      .toBe(true)
    await shot('view')
  })

  it('shows a bad statement with its SQLSTATE and marks the position', async () => {
    await page.goto(url('/sql'))
    await page.fill('#sql', 'SELECT channel FROM no_such_view')
    await page.keyboard.press('Control+Enter')
    const error = page.locator('.error[data-sqlstate]')
    await error.waitFor({ timeout: 20_000 })
    expect(await error.getAttribute('data-sqlstate')).toBe('42P01')
    expect(await error.locator('.sqlstate').innerText()).toBe('42P01')
    expect(await error.locator('pre.position mark').innerText()).toBe('n')
    await shot('sql-error')

    // EXPLAIN per stage: one panel per planning stage.
    await page.fill('#sql', 'CREATE MATERIALIZED VIEW explained AS SELECT channel, count(*) FROM bid GROUP BY channel')
    await page.click('#explain')
    await page.locator('.stage[data-stage="PHYSICAL"] pre').waitFor({ timeout: 20_000 })
    expect(await page.locator('.stage').count()).toBe(5)
    expect(await page.locator('.stage[data-stage="PHYSICAL"] pre').innerText()).toContain('HashAggregate')
    await shot('sql-explain')
  })

  it('draws the operators of a join view, with fan-out to the views that read it', async () => {
    await server.db.sql(`CREATE TABLE channel_owner (channel TEXT PRIMARY KEY, owner TEXT)`)
    await server.db.sql(
      `INSERT INTO channel_owner VALUES ('Google', 'g'), ('Apple', 'a'), ('Baidu', 'b'), ('Facebook', 'f')`,
    )
    await server.db.sql(
      `CREATE MATERIALIZED VIEW bids_by_owner AS SELECT o.owner, count(*) AS bids FROM bid b JOIN channel_owner o ON b.channel = o.channel GROUP BY o.owner`,
    )
    await server.db.sql(`CREATE MATERIALIZED VIEW top_owner AS SELECT max(bids) AS most FROM bids_by_owner`)
    await page.goto(url('/graph/bids_by_owner'))
    await page.locator('svg.graph g.node[data-node="HashJoin"]').waitFor({ timeout: 20_000 })
    for (const node of ['Materialize', 'HashAggregate', 'HashJoin', 'bid', 'channel_owner', 'top_owner']) {
      expect(await page.locator(`svg.graph g.node[data-node="${node}"]`).count(), node).toBeGreaterThan(0)
    }
    // Per-operator rates arrive with the second metrics sample.
    await expect
      .poll(async () => page.locator('table.operators tr[data-operator="HashJoin"] td').nth(3).innerText(), {
        timeout: 20_000,
      })
      .not.toBe('–')
    await shot('graph')
  })

  it('shows a sink whose Redis went away as failing', async () => {
    // A TCP proxy in front of the real Redis: closing it stalls the sink's commits.
    const sockets = new Set<Socket>()
    const proxy: Server = createServer((client) => {
      const upstream = connect(6379, '127.0.0.1')
      sockets.add(client).add(upstream)
      client.pipe(upstream).pipe(client)
      const drop = (): void => {
        client.destroy()
        upstream.destroy()
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const port = (proxy.address() as { port: number }).port
    try {
      await server.db.sql(
        `CREATE SINK owners_redis FROM bids_per_channel WITH (connector = 'redis', url = 'redis://127.0.0.1:${port}', key_prefix = 'console-test-${Date.now()}:')`,
      )
      await page.goto(url('/'))
      const row = page.locator('table.objects tr[data-object="owners_redis"]')
      await row.waitFor({ timeout: 20_000 })
      await expect.poll(async () => row.getAttribute('data-state'), { timeout: 20_000 }).toBe('running')
      // close() waits for open connections to end: cut them first.
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await closed
      await expect.poll(async () => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('failing')
      // It stands out: listed among the problems at the top, not only in its row.
      await page.locator('.problems li.failing', { hasText: 'owners_redis' }).waitFor({ timeout: 10_000 })
      await shot('sink-failing')
    } finally {
      proxy.close()
      for (const s of sockets) s.destroy()
      await server.db.sql('DROP SINK owners_redis').catch(() => {})
    }
  }, 120_000)

  it('shows dead letters filtered by object and reason, with the payload', async () => {
    await server.db.sql(`CREATE TABLE readings (id BIGINT, v BIGINT) APPEND ONLY`)
    await server.db.sql(`CREATE MATERIALIZED VIEW ratios AS SELECT id, 100 / v AS r FROM readings`)
    await server.db.sql(`INSERT INTO readings VALUES (1, 0), (2, 5)`)
    await page.goto(url('/dead-letters?object=ratios'))
    const rows = page.locator('.letters-list table tbody tr')
    await rows.first().waitFor({ timeout: 20_000 })
    expect(await rows.count()).toBe(1)
    await expect.poll(async () => page.locator('#dl-object').inputValue()).toBe('ratios')
    await rows.first().locator('summary').click()
    expect(await rows.first().locator('pre.payload').innerText()).toContain('1')
    await shot('dead-letters')
  })

  it('keeps a live page working through a server restart', async () => {
    await page.goto(url('/views/bids_per_channel'))
    await page.locator('.stream-status.live').waitFor({ timeout: 20_000 })
    await page.locator('table.rows tbody tr').first().waitFor({ timeout: 20_000 })
    await server.close()
    await page.locator('.stream-status.reconnecting').waitFor({ timeout: 20_000 })
    server = await start(httpPort)
    await page.locator('.stream-status.live').waitFor({ timeout: 60_000 })
    const before = (await viewRows()).join('\n')
    await expect.poll(async () => (await viewRows()).join('\n'), { timeout: 20_000 }).not.toBe(before)
    await page.goto(url('/'))
    await page.locator('table.objects tr[data-object="bids_per_2s"]').waitFor({ timeout: 20_000 })
    await shot('after-restart')
  })

  it('asks for a token when the server has one, and then shows the data', async () => {
    const db = await Sluice.open({ dataDir: ':memory:' })
    const app = buildHttpApp({ db, tokens: ['s3cret'] })
    try {
      await db.sql('CREATE TABLE guarded (k BIGINT PRIMARY KEY)')
      await app.listen({ host: '127.0.0.1', port: 0 })
      const port = (app.server.address() as { port: number }).port
      const other = await browser.newPage()
      try {
        await other.goto(`http://127.0.0.1:${port}/`)
        await other.locator('form.login').waitFor({ timeout: 20_000 })
        await other.fill('#token', 'wrong')
        await other.click('form.login button[type="submit"]')
        await other.locator('form.login', { hasText: 'not accepted' }).waitFor({ timeout: 20_000 })
        await other.fill('#token', 's3cret')
        await other.keyboard.press('Enter')
        await other.locator('table.objects tr[data-object="guarded"]').waitFor({ timeout: 20_000 })
        await other.screenshot({ path: join(ARTIFACTS, 'signed-in.png') })
      } finally {
        await other.close()
      }
    } finally {
      await app.close()
      await db.close()
    }
  })

  it('lets a read-only user see everything but refuses its DDL', async () => {
    const db = await Sluice.open({ dataDir: ':memory:' })
    const users = new Map([['viewer', { password: 'pw', readOnly: true, login: true }]])
    const app = buildHttpApp({ db, auth: { required: true, user: (name) => users.get(name) } })
    try {
      await db.sql('CREATE TABLE seen (k BIGINT PRIMARY KEY)')
      await app.listen({ host: '127.0.0.1', port: 0 })
      const port = (app.server.address() as { port: number }).port
      const other = await browser.newPage()
      try {
        await other.goto(`http://127.0.0.1:${port}/sql`)
        await other.locator('form.login').waitFor({ timeout: 20_000 })
        await other.fill('#user', 'viewer')
        await other.fill('#password', 'pw')
        await other.click('form.login button[type="submit"]')
        await other.locator('.readonly-note', { hasText: 'read-only' }).waitFor({ timeout: 20_000 })
        await other.fill('#sql', 'CREATE TABLE nope (a INT)')
        await other.click('#run')
        const error = other.locator('.error[data-sqlstate]')
        await error.waitFor({ timeout: 20_000 })
        expect(await error.getAttribute('data-sqlstate')).toBe('42501')
        await other.screenshot({ path: join(ARTIFACTS, 'read-only.png') })
        await other.click('nav >> text=Overview')
        await other.locator('table.objects tr[data-object="seen"]').waitFor({ timeout: 20_000 })
      } finally {
        await other.close()
      }
    } finally {
      await app.close()
      await db.close()
    }
  })

  it('lists 50 views on the overview and keeps updating', async () => {
    for (let i = 0; i < 50; i++) {
      await server.db.sql(
        `CREATE MATERIALIZED VIEW fifty_${i} AS SELECT auction % 10 AS bucket, count(*) AS n FROM bid WHERE auction % 50 = ${i} GROUP BY auction % 10`,
      )
    }
    await page.goto(url('/'))
    await page.locator('table.objects tr[data-object="fifty_49"]').waitFor({ timeout: 30_000 })
    expect(await page.locator('table.objects tr[data-kind="materialized_view"]').count()).toBeGreaterThanOrEqual(50)
    // Still live: a view's rows column keeps moving with the generator.
    const cell = page.locator('table.objects tr[data-object="bids_per_channel"] td').nth(3)
    const first = await cell.innerText()
    await expect.poll(async () => cell.innerText(), { timeout: 20_000 }).not.toBe(first)
    await shot('fifty-views')
    expect(pageErrors).toEqual([])
  })
})
