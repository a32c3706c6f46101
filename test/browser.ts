/**
 * A real headless Chromium for the console's end-to-end tests, driven with playwright-core (no
 * browser download: Debian's `chromium` package). Like test/kafka.ts starts a broker on demand,
 * this installs the package when /usr/bin/chromium is missing and the tests run as root (CI runs
 * `npm ci && npm test` as root on a fresh machine); the install runs once, under a lock file,
 * whichever vitest worker gets there first. When it cannot be installed the test fails saying so.
 */
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'
import { sleep } from './support.ts'

export const CHROMIUM = process.env.SLUICE_CHROMIUM ?? '/usr/bin/chromium'
const cache = fileURLToPath(new URL('../.cache', import.meta.url))
const lockFile = join(cache, 'chromium-install.lock')
/** Where the console tests write their screenshots (kept after the run as artifacts). */
export const ARTIFACTS = join(cache, 'artifacts', 'console')
/** apt-get on a fresh machine: the index update plus about 100 MB of packages. */
const INSTALL_MS = 15 * 60_000

/**
 * Flags for a headless Chromium on a machine without internet: without the background-networking
 * ones it keeps trying to reach Google's update and sync services.
 */
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
]

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function tryLock(): boolean {
  try {
    const fd = openSync(lockFile, 'wx')
    writeSync(fd, String(process.pid))
    closeSync(fd)
    return true
  } catch {
    try {
      const pid = Number(readFileSync(lockFile, 'utf8'))
      // The holder died mid-install: take the lock over on the next try.
      if (Number.isInteger(pid) && pid > 0 && !alive(pid)) rmSync(lockFile, { force: true })
    } catch {
      // gone already
    }
    return false
  }
}

function install(): void {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update'], ['install', '-y', 'chromium']]) {
    const r = spawnSync('apt-get', args, { env, encoding: 'utf8', timeout: INSTALL_MS })
    if (r.status !== 0)
      throw new Error(
        `apt-get ${args.join(' ')} failed (${r.status ?? r.signal}):\n${(r.stderr || r.stdout || String(r.error)).slice(-2000)}`,
      )
  }
}

/** The Chromium binary, installing Debian's package first when it is missing (as root). */
export async function ensureChromium(): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM
  if (process.getuid?.() !== 0) {
    throw new Error(
      `the console browser tests need Chromium at ${CHROMIUM}: run "apt-get install -y chromium" as root (or set SLUICE_CHROMIUM to a Chromium binary)`,
    )
  }
  mkdirSync(cache, { recursive: true })
  const deadline = Date.now() + INSTALL_MS
  while (Date.now() < deadline) {
    if (tryLock()) {
      try {
        if (!existsSync(CHROMIUM)) install()
      } finally {
        rmSync(lockFile, { force: true })
      }
      if (existsSync(CHROMIUM)) return CHROMIUM
      throw new Error(`apt-get installed chromium but ${CHROMIUM} is still missing`)
    }
    await sleep(1000)
    if (existsSync(CHROMIUM)) return CHROMIUM
  }
  throw new Error(`Chromium was not installed within ${INSTALL_MS / 60_000} minutes (another worker holds ${lockFile})`)
}

/** A headless Chromium; close it when done. */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = await ensureChromium()
  mkdirSync(ARTIFACTS, { recursive: true })
  return chromium.launch({ executablePath, headless: true, args: FLAGS })
}
