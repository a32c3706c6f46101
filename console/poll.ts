/**
 * Polling that survives a server restart: `tick` runs every `ms`; a failure shows in the header
 * and the next tick simply tries again. A missing token stops polling and shows the login form.
 */
import { Unauthorized } from './api.ts'

/** Tells the router to show the login form (main.ts listens). */
export function needLogin(): void {
  window.dispatchEvent(new Event('sluice-unauthorized'))
}

export function poll(ms: number, tick: (signal: AbortSignal) => Promise<void>): () => void {
  const controller = new AbortController()
  let timer: number | undefined
  const run = async (): Promise<void> => {
    try {
      await tick(controller.signal)
    } catch (e) {
      if (e instanceof Unauthorized) {
        needLogin()
        return
      }
    }
    if (!controller.signal.aborted) timer = window.setTimeout(() => void run(), ms)
  }
  void run()
  return () => {
    controller.abort()
    window.clearTimeout(timer)
  }
}
