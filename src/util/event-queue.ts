// A binary-heap event queue on a virtual clock: the simulator's and the virtual-time tests' only
// notion of time. Events at the same instant run in the order they were scheduled, so a run is
// deterministic for a seed. A cancelled event stays in the heap and is skipped when it surfaces
// (cheaper than removing it from the middle). A timer is its event: a timeout is marked fired
// when it runs, an interval goes back into the heap as the same object (one allocation per timer,
// not one per firing plus the closures around it: the simulator sets one per datagram).

export interface QueuedEvent {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
  /** An interval's period in ms: rescheduled that much later just before it runs. 0: runs once. */
  every: number
  /** A one-shot event that has run. */
  fired: boolean
  /** Set through Timers (counted in `timeoutsFired` when a one-shot runs). */
  timer: boolean
}

export class EventQueue {
  private heap: QueuedEvent[] = []
  private seq = 0
  private t = 0
  processed = 0
  /** One-shot timer events that have run. */
  timeoutsFired = 0

  constructor(start = 0) { this.t = start }

  now(): number { return this.t }
  get size(): number { return this.heap.length }

  at(time: number, fn: () => void, every = 0, timer = false): QueuedEvent {
    const e: QueuedEvent = { at: 0, seq: 0, fn, cancelled: false, every, fired: false, timer }
    this.push(e, time)
    return e
  }

  after(ms: number, fn: () => void, every = 0, timer = false): QueuedEvent { return this.at(this.t + ms, fn, every, timer) }

  private push(e: QueuedEvent, time: number): void {
    e.at = Math.max(time, this.t)
    e.seq = this.seq++
    const h = this.heap
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (less(h[p], e)) break
      h[i] = h[p]
      i = p
    }
    h[i] = e
  }

  /** When the next live event is due, or Infinity. */
  nextAt(): number {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop()
    return this.heap.length > 0 ? this.heap[0].at : Infinity
  }

  /** Runs the next event if it is due by `until`; false when there is none. */
  step(until: number): boolean {
    if (this.nextAt() > until) return false
    const e = this.pop()
    this.t = e.at
    this.processed++
    if (e.every > 0) this.push(e, e.at + e.every)
    else {
      e.fired = true
      if (e.timer) this.timeoutsFired++
    }
    e.fn()
    return true
  }

  /** Moves the clock forward to `t` (never back) without running anything. */
  advanceTo(t: number): void { this.t = Math.max(this.t, t) }

  /** Runs events synchronously until the queue is empty or the clock would pass `until`. */
  run(until: number): void {
    while (this.step(until)) { /* each step runs one event */ }
    this.advanceTo(until)
  }

  private pop(): QueuedEvent {
    const h = this.heap
    const top = h[0]
    const last = h.pop() as QueuedEvent
    if (h.length > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= h.length) break
        const r = l + 1
        const c = r < h.length && less(h[r], h[l]) ? r : l
        if (less(last, h[c])) break
        h[i] = h[c]
        i = c
      }
      h[i] = last
    }
    return top
  }
}

function less(a: QueuedEvent, b: QueuedEvent): boolean { return a.at < b.at || (a.at === b.at && a.seq < b.seq) }
