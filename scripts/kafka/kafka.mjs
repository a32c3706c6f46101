#!/usr/bin/env node
// A single-node Apache Kafka broker (KRaft, broker + controller in one JVM) on 127.0.0.1 for tests
// and demos, run from the Kafka jars on Maven Central: no Docker, nothing installed by hand beyond
// Java 17 and Maven. Plain Node ESM with no dependencies, so it runs before `npm install` matters.
//
//   node scripts/kafka/kafka.mjs start [--foreground] [--port 19092]   (npm run kafka = --foreground)
//   node scripts/kafka/kafka.mjs stop [--port 19092]
//   node scripts/kafka/kafka.mjs status [--port 19092]
//
// Files live in .cache/kafka/ (git-ignored; SLUICE_KAFKA_CACHE overrides the folder): lib/ holds the
// jars (fetched once, again when pom.xml changes), data-<port>/ the broker's log dirs (fresh at every start
// unless `start({ keepData: true })` finds them formatted: a restart that keeps topics and records),
// server-<port>.properties, broker-<port>.pid and broker-<port>.log. The controller listens on
// port + 1.
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const cache = process.env.SLUICE_KAFKA_CACHE ? resolve(process.env.SLUICE_KAFKA_CACHE) : join(root, '.cache', 'kafka')
const lib = join(cache, 'lib')
const libComplete = join(lib, '.complete')
const pom = join(root, 'scripts', 'kafka', 'pom.xml')
const READY_TIMEOUT_MS = 90_000
const STOP_TIMEOUT_MS = 30_000

export const DEFAULT_PORT = 19092

export const paths = (port = DEFAULT_PORT) => ({
  cache,
  lib,
  data: join(cache, `data-${port}`),
  properties: join(cache, `server-${port}.properties`),
  pid: join(cache, `broker-${port}.pid`),
  log: join(cache, `broker-${port}.log`),
})

class KafkaScriptError extends Error {}

function log(message) {
  console.error(`kafka: ${message}`)
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function java() {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java'
}

/** Throws with what to install when Java 17+ is missing. */
export function checkJava() {
  const r = spawnSync(java(), ['-version'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    throw new KafkaScriptError(
      'Java 17 or newer is needed to run the Kafka broker, but `java -version` failed. ' +
        'Install a JDK or JRE 17+ (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME.',
    )
  }
  const text = `${r.stdout}${r.stderr}`
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text)
  const major = m === null ? 0 : Number(m[1]) === 1 ? Number(m[2]) : Number(m[1])
  if (major < 17)
    throw new KafkaScriptError(`Kafka 4 needs Java 17 or newer; \`java -version\` says: ${text.split('\n')[0]}`)
}

function checkMaven() {
  const r = spawnSync('mvn', ['-v'], { encoding: 'utf8' })
  if (r.error || r.status !== 0) {
    throw new KafkaScriptError(
      'Maven is needed once, to fetch the Kafka jars from Maven Central, but `mvn -v` failed. ' +
        'Install Maven (Debian/Ubuntu: apt-get install maven).',
    )
  }
}

/** Copies the broker jars into .cache/kafka/lib unless a complete copy made from this pom is there. */
export function fetchJars() {
  const pomHash = createHash('sha256').update(readFileSync(pom)).digest('hex')
  if (existsSync(libComplete) && readFileSync(libComplete, 'utf8').trim() === pomHash) return
  checkMaven()
  const tmp = `${lib}.tmp-${process.pid}`
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  log('fetching the Kafka broker jars from Maven Central (first run only)...')
  const r = spawnSync(
    'mvn',
    ['-q', '-B', '-Dstyle.color=never', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
    },
  )
  if (r.status !== 0) {
    rmSync(tmp, { recursive: true, force: true })
    throw new KafkaScriptError(
      '`mvn dependency:copy-dependencies` failed (is Maven Central reachable?); see its output above',
    )
  }
  writeFileSync(join(tmp, '.complete'), pomHash)
  // Rename into place so a half-finished download is never mistaken for a complete one.
  rmSync(lib, { recursive: true, force: true })
  renameSync(tmp, lib)
}

/** A Kafka cluster id: 16 random bytes in URL-safe base64, as `StorageTool random-uuid` prints. */
function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url')
    if (!id.startsWith('-')) return id
  }
}

function serverProperties(port, dataDir) {
  const controller = port + 1
  return [
    '# Written by scripts/kafka/kafka.mjs: single-node KRaft broker + controller, loopback only.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.bootstrap.servers=127.0.0.1:${controller}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controller}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    // Internal topics with one replica (there is one broker) and few partitions (fast to create).
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=4',
    // Exactly-once sinks need the transaction state log, which cannot be replicated 3 times here.
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=4',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    // A consumer group's first member starts at once instead of waiting 3 s for others.
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=true',
    'delete.topic.enable=true',
    '',
  ].join('\n')
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return e.code === 'EPERM'
  }
}

/** The broker pid from the pid file, if that process is still a Kafka broker. */
export function brokerPid(port = DEFAULT_PORT) {
  const { pid: file } = paths(port)
  if (!existsSync(file)) return undefined
  const pid = Number(readFileSync(file, 'utf8').trim())
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined
  // Guard against a recycled pid: only a JVM running kafka.Kafka counts.
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    if (!cmd.includes('kafka.Kafka')) return undefined
  } catch {
    // No /proc (macOS): trust the pid file.
  }
  return pid
}

function request(apiKey, apiVersion, correlationId, body) {
  const clientId = Buffer.from('sluice-kafka-check')
  const header = Buffer.alloc(10)
  header.writeInt16BE(apiKey, 0)
  header.writeInt16BE(apiVersion, 2)
  header.writeInt32BE(correlationId, 4)
  header.writeInt16BE(clientId.length, 8)
  const size = Buffer.alloc(4)
  size.writeInt32BE(header.length + clientId.length + body.length, 0)
  return Buffer.concat([size, header, clientId, body])
}

/**
 * Whether a Kafka broker on host:port answers a Metadata request listing at least one broker,
 * which it does only once it has caught up with the controller and serves clients. Raw protocol
 * (ApiVersions v0, then Metadata v4) so that this file needs no npm package.
 */
export function brokerAnswers(port = DEFAULT_PORT, host = '127.0.0.1', timeoutMs = 3000) {
  return new Promise((res) => {
    const socket = connect({ port, host })
    let buffered = Buffer.alloc(0)
    let step = 'versions'
    const done = (ok) => {
      clearTimeout(timer)
      socket.destroy()
      res(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write(request(18, 0, 1, Buffer.alloc(0))))
    socket.on('data', (data) => {
      buffered = Buffer.concat([buffered, data])
      if (buffered.length < 4 || buffered.length < 4 + buffered.readInt32BE(0)) return
      const frame = buffered.subarray(4, 4 + buffered.readInt32BE(0))
      buffered = buffered.subarray(4 + frame.length)
      if (step === 'versions') {
        // correlation id, error code, [api key, min version, max version]
        if (frame.length < 10 || frame.readInt16BE(4) !== 0) return done(false)
        const count = frame.readInt32BE(6)
        for (let i = 0; i < count; i++) {
          const at = 10 + i * 6
          if (frame.readInt16BE(at) === 3 && frame.readInt16BE(at + 2) <= 4 && frame.readInt16BE(at + 4) >= 4) {
            step = 'metadata'
            // topics: empty array (no topic details needed), allow_auto_topic_creation: false
            return socket.write(request(3, 4, 2, Buffer.from([0, 0, 0, 0, 0])))
          }
        }
        return done(true) // a broker without Metadata v4 (not Kafka 2.x-4.x): answering is all we can check
      }
      // correlation id, throttle time, broker count
      done(frame.length >= 12 && frame.readInt32BE(8) >= 1)
    })
  })
}

function tail(file, lines = 40) {
  if (!existsSync(file)) return '(no broker log)'
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
}

async function waitReady(port, child, logFile) {
  const deadline = Date.now() + READY_TIMEOUT_MS
  let exit
  child.once('exit', (code, signal) => (exit = signal ?? `code ${code}`))
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      throw new KafkaScriptError(
        `the broker exited during startup (${exit})${logFile ? `; its log ends with:\n${tail(logFile)}` : ''}`,
      )
    }
    if (await brokerAnswers(port)) return
    await sleep(300)
  }
  if (exit === undefined) child.kill('SIGKILL')
  throw new KafkaScriptError(
    `the broker did not answer on 127.0.0.1:${port} within ${READY_TIMEOUT_MS / 1000} s` +
      (logFile ? `; its log ends with:\n${tail(logFile)}` : ''),
  )
}

/**
 * Starts a broker with fresh storage on 127.0.0.1:port and resolves once it serves metadata.
 * With `keepData`, storage already formatted for the port is kept (a restart: topics, records
 * and consumer groups survive); fresh storage is made only when there is none.
 * Detached by default (survives this process; `stop` ends it); with `foreground` it resolves only
 * after the broker exits, which Ctrl-C (SIGINT) or SIGTERM brings about.
 * Returns `{ started: false }` when a broker already answers on the port.
 */
export async function start({ foreground = false, port = DEFAULT_PORT, keepData = false } = {}) {
  const p = paths(port)
  if (await brokerAnswers(port)) {
    log(`a broker already answers on 127.0.0.1:${port}; using it`)
    return { started: false, pid: brokerPid(port) }
  }
  checkJava()
  fetchJars()
  const running = brokerPid(port)
  if (running !== undefined) {
    // Started by someone else a moment ago and still coming up: wait for it rather than wiping its data.
    log(`broker pid ${running} is starting on port ${port}; waiting for it`)
    const deadline = Date.now() + READY_TIMEOUT_MS
    while (Date.now() < deadline) {
      if (await brokerAnswers(port)) return { started: false, pid: running }
      if (!alive(running)) break
      await sleep(300)
    }
    throw new KafkaScriptError(`broker pid ${running} did not come up on port ${port}; log:\n${tail(p.log)}`)
  }

  const classpath = `${lib}/*`
  const formatted = keepData && existsSync(join(p.data, 'meta.properties')) && existsSync(p.properties)
  if (!formatted) {
    rmSync(p.data, { recursive: true, force: true })
    mkdirSync(p.data, { recursive: true })
    writeFileSync(p.properties, serverProperties(port, p.data))
  }
  // A short-lived tool JVM: small heap, quick JIT.
  const format = formatted
    ? { status: 0 }
    : spawnSync(
        java(),
        [
          '-Xmx256m',
          '-XX:TieredStopAtLevel=1',
          '-XX:+UseSerialGC',
          '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
          '-cp',
          classpath,
          'kafka.tools.StorageTool',
          'format',
          '--standalone',
          '-t',
          clusterId(),
          '-c',
          p.properties,
        ],
        { encoding: 'utf8' },
      )
  if (format.status !== 0)
    throw new KafkaScriptError(`could not format the KRaft storage:\n${format.stderr || format.stdout}`)

  const args = [
    '-Xms512m',
    '-Xmx1g',
    // Kafka's own defaults (bin/kafka-server-start.sh, kafka-run-class.sh).
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-Djava.awt.headless=true',
    `-Dorg.slf4j.simpleLogger.defaultLogLevel=${process.env.SLUICE_KAFKA_LOG_LEVEL ?? (foreground ? 'warn' : 'info')}`,
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS',
    '-Dorg.slf4j.simpleLogger.showShortLogName=true',
    '-cp',
    classpath,
    'kafka.Kafka',
    p.properties,
  ]
  const started = Date.now()

  if (foreground) {
    const child = spawn(java(), args, { stdio: 'inherit' })
    writeFileSync(p.pid, String(child.pid))
    const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })))
    let signals = 0
    const onSignal = () => {
      // The terminal sends Ctrl-C to the JVM too; a second Ctrl-C does not wait for a clean shutdown.
      signals++
      if (signals === 1) log('stopping the broker...')
      child.kill(signals === 1 ? 'SIGTERM' : 'SIGKILL')
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    try {
      await waitReady(port, child, undefined)
      log(`broker ready on 127.0.0.1:${port} after ${((Date.now() - started) / 1000).toFixed(1)} s (Ctrl-C stops it)`)
      const { code, signal } = await exited
      log(`broker stopped (${signal ?? `exit code ${code}`})`)
    } finally {
      rmSync(p.pid, { force: true })
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
    return { started: true, pid: child.pid }
  }

  const out = openSync(p.log, 'w')
  const child = spawn(java(), args, { detached: true, stdio: ['ignore', out, out] })
  closeSync(out)
  writeFileSync(p.pid, String(child.pid))
  try {
    await waitReady(port, child, p.log)
  } catch (e) {
    rmSync(p.pid, { force: true })
    throw e
  }
  child.unref()
  log(
    `broker ready on 127.0.0.1:${port} after ${((Date.now() - started) / 1000).toFixed(1)} s (pid ${child.pid}, log ${p.log})`,
  )
  return { started: true, pid: child.pid }
}

/** Stops the broker this script started on the port; resolves false when none was running. */
export async function stop({ port = DEFAULT_PORT } = {}) {
  const p = paths(port)
  const pid = brokerPid(port)
  if (pid === undefined) {
    rmSync(p.pid, { force: true })
    return false
  }
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + STOP_TIMEOUT_MS
  while (alive(pid) && Date.now() < deadline) await sleep(200)
  if (alive(pid)) {
    log(`broker pid ${pid} did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it`)
    process.kill(pid, 'SIGKILL')
    while (alive(pid)) await sleep(100)
  }
  rmSync(p.pid, { force: true })
  return true
}

function parseArgs(argv) {
  const [command = 'start', ...rest] = argv
  let port = DEFAULT_PORT
  const i = rest.indexOf('--port')
  if (i >= 0) {
    port = Number(rest[i + 1])
    if (!Number.isInteger(port) || port <= 0 || port >= 65535)
      throw new KafkaScriptError(`--port needs a port number, got "${rest[i + 1]}"`)
  }
  return { command, port, foreground: rest.includes('--foreground') }
}

async function main() {
  const { command, port, foreground } = parseArgs(process.argv.slice(2))
  switch (command) {
    case 'start':
      await start({ foreground, port })
      return 0
    case 'stop':
      log(
        (await stop({ port }))
          ? `broker on port ${port} stopped`
          : `no broker started by this script runs on port ${port}`,
      )
      return 0
    case 'status': {
      const up = await brokerAnswers(port)
      const pid = brokerPid(port)
      log(
        up
          ? `up on 127.0.0.1:${port}${pid === undefined ? ' (not started by this script)' : ` (pid ${pid})`}`
          : `down on 127.0.0.1:${port}`,
      )
      return up ? 0 : 1
    }
    default:
      throw new KafkaScriptError(`unknown command "${command}" (start [--foreground] [--port N] | stop | status)`)
  }
}

const invoked = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (invoked) {
  try {
    process.exitCode = await main()
  } catch (e) {
    log(e instanceof KafkaScriptError ? e.message : (e?.stack ?? String(e)))
    process.exitCode = 1
  }
}
