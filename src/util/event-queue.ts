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
  /** The heap: events, and beside them their times and sequence numbers in typed arrays, so a
   * comparison reads two numbers side by side in memory instead of two scattered objects (with a
   * thousand nodes the heap holds every datagram in flight, and its comparisons were a few percent
   * of the simulator's CPU in cache misses). Slot i of the three is one entry. */
  private events: QueuedEvent[] = []
  private times = new Float64Array(1024)
  private seqs = new Float64Array(1024)
  private n = 0
  private seq = 0
  private t = 0
  processed = 0
  /** One-shot timer events that have run. */
  timeoutsFired = 0

  constructor(start = 0) { this.t = start }

  now(): number { return this.t }
  get size(): number { return this.n }

  at(time: number, fn: () => void, every = 0, timer = false): QueuedEvent {
    const e: QueuedEvent = { at: 0, seq: 0, fn, cancelled: false, every, fired: false, timer }
    this.push(e, time)
    return e
  }

  after(ms: number, fn: () => void, every = 0, timer = false): QueuedEvent { return this.at(this.t + ms, fn, every, timer) }

  /** Queues an event object the caller made itself (one that carries its own data, so no
   * closure is needed: the in-process network's datagrams in flight). */
  add(e: QueuedEvent, time: number): void { this.push(e, time) }

  private push(e: QueuedEvent, time: number): void {
    const at = e.at = Math.max(time, this.t)
    const seq = e.seq = this.seq++
    if (this.n === this.times.length) this.grow()
    const { events, times, seqs } = this
    let i = this.n++
    while (i > 0) {
      const p = (i - 1) >> 1
      if (times[p] < at || (times[p] === at && seqs[p] < seq)) break
      events[i] = events[p]; times[i] = times[p]; seqs[i] = seqs[p]
      i = p
    }
    events[i] = e; times[i] = at; seqs[i] = seq
  }

  private grow(): void {
    const times = new Float64Array(this.times.length * 2)
    times.set(this.times)
    const seqs = new Float64Array(this.seqs.length * 2)
    seqs.set(this.seqs)
    this.times = times
    this.seqs = seqs
  }

  /** When the next live event is due, or Infinity. */
  nextAt(): number {
    while (this.n > 0 && this.events[0].cancelled) this.pop()
    return this.n > 0 ? this.times[0] : Infinity
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
    const { events, times, seqs } = this
    const top = events[0]
    const last = --this.n
    if (last > 0) {
      const e = events[last]
      const at = times[last]
      const seq = seqs[last]
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= last) break
        const r = l + 1
        const c = r < last && (times[r] < times[l] || (times[r] === times[l] && seqs[r] < seqs[l])) ? r : l
        if (at < times[c] || (at === times[c] && seq < seqs[c])) break
        events[i] = events[c]; times[i] = times[c]; seqs[i] = seqs[c]
        i = c
      }
      events[i] = e; times[i] = at; seqs[i] = seq
    }
    // Let the event go (the array keeps its length: slots past n are dead).
    events[last] = undefined as unknown as QueuedEvent
    return top
  }
}
