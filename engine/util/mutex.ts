/** A FIFO async mutex: statements that change the catalog or tables run one at a time. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve()

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const prev = this.tail
    let release!: () => void
    this.tail = new Promise<void>((resolve) => (release = resolve))
    await prev
    try {
      return await fn()
    } finally {
      release()
    }
  }
}
