/**
 * When a view's ttl expires state (docs/sql.md, "State bounds: ttl"). An expiry scan visits all
 * of an operator's state, so it runs once per quarter of the ttl; it runs on the processing
 * clock's quarter boundaries and judges keys at the boundary, not at the tick's exact time. A
 * scan repeated within one quarter (a restored operator's first tick, or extra ticks) then
 * expires exactly what the first one did, so a restart expires the same keys as an uninterrupted
 * run. A key goes between ttl and 1.25 ttl after its last change.
 */

/** The boundary a scan at `now` judges at: the start of the ttl quarter that `now` is in. */
export function expiryBoundary(now: number, ttlMs: number): number {
  const quarter = ttlMs / 4
  return Math.floor(now / quarter) * quarter
}
