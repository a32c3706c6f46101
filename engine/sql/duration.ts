/**
 * Durations in Sluice-only clauses (`WATERMARK 30s`, window sizes written as '1m'): the value
 * layer's parseDuration (a number and a unit — ms s m h d — or interval text), with the clause's
 * position attached to errors. Returns microseconds.
 */
import { SluiceError } from '../errors.ts'
import { parseDuration } from '../types/interval.ts'

export function parseDurationMicros(text: string, position?: number): number {
  try {
    return parseDuration(text)
  } catch (e) {
    if (e instanceof SluiceError && e.position === undefined) e.position = position
    throw e
  }
}
