/**
 * A min-heap of items by a number (an event time): what an interval join frees in time order, so
 * a watermark step costs the rows it frees rather than a scan of all it holds.
 */
export class TimeHeap<T> {
  private readonly times: number[] = []
  private readonly items: T[] = []

  get size(): number {
    return this.times.length
  }

  push(time: number, item: T): void {
    const times = this.times
    const items = this.items
    let i = times.length
    times.push(time)
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (times[parent] <= time) break
      times[i] = times[parent]
      items[i] = items[parent]
      i = parent
    }
    times[i] = time
    items[i] = item
  }

  /** The smallest time held (Infinity when empty). */
  peek(): number {
    return this.times.length === 0 ? Infinity : this.times[0]
  }

  /** Removes and returns the item with the smallest time (undefined when empty). */
  pop(): T | undefined {
    const times = this.times
    const items = this.items
    const n = times.length
    if (n === 0) return undefined
    const top = items[0]
    const lastTime = times[n - 1]
    const lastItem = items[n - 1]
    times.pop()
    items.pop()
    const size = n - 1
    if (size > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= size) break
        const r = l + 1
        const c = r < size && times[r] < times[l] ? r : l
        if (times[c] >= lastTime) break
        times[i] = times[c]
        items[i] = items[c]
        i = c
      }
      times[i] = lastTime
      items[i] = lastItem
    }
    return top
  }
}
