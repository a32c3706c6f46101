/** Small helpers the integration tests share: a seeded random generator and a sleep. */

/** A seeded generator of numbers in [0, 1) (a 32-bit LCG), so a failing run can be repeated. */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
