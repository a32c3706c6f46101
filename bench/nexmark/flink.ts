/**
 * The Flink SQL baseline: builds bench/nexmark/flink (Maven, Flink 2.2 from Maven Central) once
 * into .cache/nexmark-flink, and gives the java command line that runs one query in a local
 * MiniCluster over the Kafka topics (NexmarkFlink.java).
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const HERE = dirname(fileURLToPath(import.meta.url))
const PROJECT = join(HERE, 'flink')
const BUILD = resolve(HERE, '../../.cache/nexmark-flink')
const CLASS = join(BUILD, 'classes/sluice/bench/NexmarkFlink.class')
const CLASSPATH = join(BUILD, 'classpath.txt')

/** Builds the baseline unless the cached build is newer than its sources; returns the classpath. */
export function buildFlink(log: (line: string) => void): string {
  const sources = [join(PROJECT, 'pom.xml'), join(PROJECT, 'src/main/java/sluice/bench/NexmarkFlink.java')]
  const newest = Math.max(...sources.map((s) => statSync(s).mtimeMs))
  if (!existsSync(CLASS) || !existsSync(CLASSPATH) || statSync(CLASS).mtimeMs < newest) {
    log('building the Flink baseline (mvn package; the first build downloads Flink 2.2 from Maven Central)')
    execFileSync('mvn', ['-q', '-B', 'package', 'dependency:build-classpath', `-Dmdep.outputFile=${CLASSPATH}`], {
      cwd: PROJECT,
      stdio: ['ignore', 'inherit', 'inherit'],
    })
  }
  return `${join(BUILD, 'classes')}:${readFileSync(CLASSPATH, 'utf8').trim()}`
}

/** `java` arguments for one run of `sql` over the topics with `prefix`. */
export function flinkArgs(
  classpath: string,
  brokers: string,
  prefix: string,
  name: string,
  sql: string,
  count = false,
): string[] {
  const dir = join(BUILD, 'queries')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${name}.sql`)
  writeFileSync(file, sql)
  // Java 17 needs these opens for Flink's serializers (as Flink's own launch scripts pass).
  const opens = ['java.base/java.util', 'java.base/java.lang', 'java.base/java.lang.reflect', 'java.base/java.time']
  return [
    ...opens.map((o) => `--add-opens=${o}=ALL-UNNAMED`),
    '-Xmx2g',
    '-cp',
    classpath,
    'sluice.bench.NexmarkFlink',
    brokers,
    prefix,
    file,
    '1',
    ...(count ? ['count'] : []),
  ]
}

/** Flink's final row count of `sql` over the topics with `prefix` (the harness's check of Flink). */
export function flinkCount(classpath: string, brokers: string, prefix: string, name: string, sql: string): number {
  const out = execFileSync('java', flinkArgs(classpath, brokers, prefix, `${name}-count`, sql, true), {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 600_000,
  })
  const line = out.split('\n').find((l) => l.startsWith('COUNT '))
  if (line === undefined) throw new Error(`no COUNT line from Flink: ${out.slice(-500)}`)
  return Number(line.slice(6))
}
