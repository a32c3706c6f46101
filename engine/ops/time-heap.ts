/**
 * Items by a number (an event time), taken out smallest first: what an interval join frees in
 * time order, so a watermark step costs the rows it frees rather than a scan of all it holds.
 *
 * Streams mostly arrive in event-time order (datagen always, Kafka per partition), so an item
 * whose time is >= the last queued one goes to a FIFO ring (O(1) push and pop, sequential
 * memory); only the late ones go to a binary min-heap. peek/pop take the smaller of the ring's
 * head and the heap's top, so the order is the same as a plain heap's (ties in any order).
 */
/** Ring capacity never shrunk below (slots). */
const RING_KEEP = 1024

export class TimeHeap<T> {
  // The heap of late items: times[i] <= times[2i+1], times[2i+2].
  private readonly times: number[] = []
  private readonly items: T[] = []

  // The in-order ring: qCount items from qHead (wrapping, capacity a power of two), times
  // non-decreasing. A ring rather than an array with a head index: no compaction copies, and
  // the slots are reused, so a steady stream allocates nothing.
  private qTimes = new Float64Array(16)
  private qItems: (T | undefined)[] = new Array<T | undefined>(16).fill(undefined)
  private qHead = 0
  private qCount = 0
  /** The ring's tail time; -Infinity when the ring is empty, so any time (not NaN) may start it. */
  private qLast = -Infinity

  get size(): number {
    return this.qCount + this.times.length
  }

  push(time: number, item: T): void {
    // NaN fails this test and goes to the heap, as all items did before the ring.
    if (time >= this.qLast) {
      if (this.qCount === this.qTimes.length) this.resize(this.qCount * 2)
      const i = (this.qHead + this.qCount) & (this.qTimes.length - 1)
      this.qTimes[i] = time
      this.qItems[i] = item
      this.qCount++
      this.qLast = time
      return
    }
    this.heapPush(time, item)
  }

  /** The smallest time held (Infinity when empty). */
  peek(): number {
    const top = this.times.length === 0 ? Infinity : this.times[0]
    if (this.qCount === 0) return top
    const head = this.qTimes[this.qHead]
    return head <= top ? head : top
  }

  /** Removes and returns the item with the smallest time (undefined when empty). */
  pop(): T | undefined {
    if (this.qCount > 0 && (this.times.length === 0 || this.qTimes[this.qHead] <= this.times[0])) {
      const h = this.qHead
      const item = this.qItems[h]
      // Let the freed item be collected; the ring outlives it.
      this.qItems[h] = undefined
      this.qHead = (h + 1) & (this.qTimes.length - 1)
      if (--this.qCount === 0) {
        this.qHead = 0
        this.qLast = -Infinity
      }
      // Give back a ring a burst grew (16 bytes a slot), keeping room to double again unresized.
      if (this.qTimes.length > RING_KEEP && this.qCount < this.qTimes.length >> 2) this.resize(this.qTimes.length >> 1)
      return item
    }
    return this.heapPop()
  }

  /** Moves the ring to `cap` slots (a power of two >= qCount), unwrapped to start at slot 0. */
  private resize(cap: number): void {
    const times = new Float64Array(cap)
    const items = new Array<T | undefined>(cap).fill(undefined)
    const mask = this.qTimes.length - 1
    for (let k = 0; k < this.qCount; k++) {
      const j = (this.qHead + k) & mask
      times[k] = this.qTimes[j]
      items[k] = this.qItems[j]
    }
    this.qTimes = times
    this.qItems = items
    this.qHead = 0
  }

  private heapPush(time: number, item: T): void {
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

  private heapPop(): T | undefined {
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
