/**
 * Runs one engine process and measures it from the outside, the same way for Sluice and Flink:
 * CPU time of the whole process (every thread: user + system from /proc/<pid>/stat) between the
 * moment the harness tells it to start and the moment it reports the bounded input consumed, wall
 * time over the same span, and peak RSS (VmHWM from /proc/<pid>/status).
 *
 * The child prints READY when its runtime is up (Node and the engine opened, or the JVM and the
 * table environment created), waits for a line on stdin, runs, prints `DONE <ms>`, and waits for
 * stdin to close: the counters are read while it is idle, so neither start-up nor shutdown is counted.
 */
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

export interface Measurement {
  /** Wall seconds from go to DONE, as the harness saw them. */
  readonly wallS: number
  /** CPU seconds of the process, all threads, from go to DONE. */
  readonly cpuS: number
  /** Peak resident set of the process, MiB. */
  readonly peakRssMiB: number
}

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ). */
const USER_HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100

function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) start at ") "; utime and stime are 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / USER_HZ
}

function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)
  return kb === null ? NaN : Number(kb[1]) / 1024
}

/**
 * Spawns `command args`, drives the READY/go/DONE protocol and returns the measurement. Rejects
 * with the child's stderr tail when it exits before DONE or takes longer than `timeoutMs`.
 */
export function measureProcess(command: string, args: readonly string[], timeoutMs: number): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    let cpu0 = 0
    let t0 = 0
    let done = false
    const timer = setTimeout(() => {
      if (!done) child.kill('SIGKILL')
    }, timeoutMs)
    const lines = createInterface({ input: child.stdout })
    lines.on('line', (line) => {
      const pid = child.pid
      if (pid === undefined) return
      if (line === 'READY') {
        cpu0 = cpuSeconds(pid)
        t0 = performance.now()
        child.stdin.write('go\n')
      } else if (line.startsWith('DONE')) {
        const wallS = (performance.now() - t0) / 1000
        const m: Measurement = { wallS, cpuS: cpuSeconds(pid) - cpu0, peakRssMiB: peakRssMiB(pid) }
        done = true
        clearTimeout(timer)
        child.stdin.end()
        // Give it a moment to exit by itself, then make sure it is gone.
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref()
        resolve(m)
      }
    })
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      if (!done) {
        const why = signal === 'SIGKILL' ? `timed out after ${timeoutMs / 1000} s` : `exited with ${code ?? signal}`
        reject(new Error(`${command} ${why}:\n${stderr.trim().split('\n').slice(-15).join('\n')}`))
      }
    })
  })
}
