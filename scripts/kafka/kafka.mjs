#!/usr/bin/env node
// A single-node Apache Kafka broker (KRaft, broker + controller) on 127.0.0.1 for tests and demos,
// from the Kafka jars on Maven Central. No Docker, nothing installed by hand beyond Java 17 and
// Maven.
//
//   node scripts/kafka/kafka.mjs start [--foreground] [--port 19092]
//   node scripts/kafka/kafka.mjs stop | status
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, openSync } from 'node:fs'
import { connect } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const cache = join(root, '.cache', 'kafka')
const lib = join(cache, 'lib')
const pidFile = join(cache, 'broker.pid')
const logFile = join(cache, 'broker.log')

function fail(message) {
  console.error(`kafka: ${message}`)
  process.exit(1)
}

function requireTool(cmd, args, what) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' })
  if (r.error || r.status !== 0) fail(`${what} is needed to run the test Kafka broker but \`${cmd} ${args.join(' ')}\` failed. Install ${what} (Debian: apt-get install ${cmd === 'java' ? 'openjdk-17-jre-headless' : 'maven'}).`)
  return `${r.stdout}${r.stderr}`
}

export function fetchJars() {
  if (existsSync(lib) && readdirSync(lib).some((f) => f.startsWith('kafka_2.13'))) return
  const version = requireTool('java', ['-version'], 'Java 17+')
  const major = Number(/version "(\d+)/.exec(version)?.[1] ?? 0)
  if (major < 17) fail(`Kafka 4 needs Java 17 or newer; found: ${version.split('\n')[0]}`)
  requireTool('mvn', ['-v'], 'Maven')
  mkdirSync(lib, { recursive: true })
  console.error('kafka: fetching the broker jars from Maven Central (first run only)...')
  const r = spawnSync('mvn', ['-q', '-B', '-f', join(root, 'scripts', 'kafka', 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`], { stdio: 'inherit' })
  if (r.status !== 0) {
    rmSync(lib, { recursive: true, force: true })
    fail('mvn dependency:copy-dependencies failed (is Maven Central reachable?)')
  }
}

export function portOpen(port, host = '127.0.0.1') {
  return new Promise((res) => {
    const s = connect({ port, host })
    s.once('connect', () => {
      s.destroy()
      res(true)
    })
    s.once('error', () => res(false))
  })
}

/** A Kafka ApiVersions request: the broker answers once it is serving. */
export function brokerAnswers(port, host = '127.0.0.1') {
  return new Promise((res) => {
    const s = connect({ port, host })
    const clientId = Buffer.from('sluice-check')
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length)
    let at = 0
    body.writeInt16BE(18, at) // ApiVersions
    body.writeInt16BE(0, (at += 2))
    body.writeInt32BE(1, (at += 2))
    body.writeInt16BE(clientId.length, (at += 4))
    clientId.copy(body, (at += 2))
    const frame = Buffer.alloc(4 + body.length)
    frame.writeInt32BE(body.length, 0)
    body.copy(frame, 4)
    const timer = setTimeout(() => {
      s.destroy()
      res(false)
    }, 2000)
    s.once('connect', () => s.write(frame))
    s.once('data', (d) => {
      clearTimeout(timer)
      s.destroy()
      res(d.length >= 10 && d.readInt16BE(8) === 0)
    })
    s.once('error', () => {
      clearTimeout(timer)
      res(false)
    })
  })
}

function java() {
  const home = process.env.JAVA_HOME
  return home ? join(home, 'bin', 'java') : 'java'
}

export async function start({ foreground = false, port = 19092 } = {}) {
  if (await brokerAnswers(port)) {
    console.error(`kafka: a broker already answers on 127.0.0.1:${port}`)
    return { started: false }
  }
  fetchJars()
  const dataDir = join(cache, `data-${port}`)
  rmSync(dataDir, { recursive: true, force: true })
  mkdirSync(dataDir, { recursive: true })
  const controller = port + 1
  const props = join(cache, `server-${port}.properties`)
  writeFileSync(
    props,
    [
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
      'offsets.topic.replication.factor=1',
      'offsets.topic.num.partitions=4',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'transaction.state.log.num.partitions=4',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      'auto.create.topics.enable=true',
      'log.flush.interval.messages=9223372036854775807',
      '',
    ].join('\n'),
  )
  const cp = `${lib}/*`
  const heap = ['-Xms256m', '-Xmx1g', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1']
  const uuid = spawnSync(java(), ['-cp', cp, 'kafka.tools.StorageTool', 'random-uuid'], { encoding: 'utf8' })
  if (uuid.status !== 0) fail(`could not create a cluster id: ${uuid.stderr}`)
  const clusterId = uuid.stdout.trim().split('\n').pop()
  const format = spawnSync(java(), ['-cp', cp, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', clusterId, '-c', props], { encoding: 'utf8' })
  if (format.status !== 0) fail(`could not format KRaft storage: ${format.stderr || format.stdout}`)
  const args = [...heap, '-Dlog4j2.level=WARN', '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn', '-cp', cp, 'kafka.Kafka', props]
  if (foreground) {
    const child = spawn(java(), args, { stdio: 'inherit' })
    const stop = () => child.kill('SIGTERM')
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
    await waitReady(port, child)
    console.error(`kafka: broker ready on 127.0.0.1:${port} (Ctrl-C stops it)`)
    await new Promise((r) => child.on('exit', r))
    return { started: true }
  }
  const out = openSync(logFile, 'a')
  const child = spawn(java(), args, { detached: true, stdio: ['ignore', out, out] })
  child.unref()
  writeFileSync(pidFile, String(child.pid))
  await waitReady(port, child)
  console.error(`kafka: broker ready on 127.0.0.1:${port} (pid ${child.pid})`)
  return { started: true, pid: child.pid }
}

async function waitReady(port, child) {
  const deadline = Date.now() + 120_000
  let exited = false
  child.once('exit', () => (exited = true))
  while (Date.now() < deadline) {
    if (exited) fail(`the broker exited during startup; see ${logFile}`)
    if (await brokerAnswers(port)) return
    await new Promise((r) => setTimeout(r, 500))
  }
  const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n') : ''
  fail(`the broker did not answer on 127.0.0.1:${port} within 120 s\n${tail}`)
}

export async function stop() {
  if (!existsSync(pidFile)) return false
  const pid = Number(readFileSync(pidFile, 'utf8'))
  rmSync(pidFile, { force: true })
  try {
    process.kill(pid, 'SIGTERM')
  } catch {
    return false
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0)
    } catch {
      return true
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
  return true
}

const invoked = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)
if (invoked) {
  const [cmd = 'start', ...rest] = process.argv.slice(2)
  const port = rest.includes('--port') ? Number(rest[rest.indexOf('--port') + 1]) : 19092
  if (cmd === 'start') await start({ foreground: rest.includes('--foreground'), port })
  else if (cmd === 'stop') console.error((await stop()) ? 'kafka: stopped' : 'kafka: no broker started by this script is running')
  else if (cmd === 'status') console.error((await brokerAnswers(port)) ? `kafka: up on 127.0.0.1:${port}` : 'kafka: down')
  else fail(`unknown command "${cmd}" (start | stop | status)`)
}
