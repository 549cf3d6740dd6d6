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
  /** Events added in time order (`add`: datagrams in flight over links of one delay land in the
   * order they were sent), outside the heap: a queue, oldest at `laneHead`. The next event is the
   * earlier of its head and the heap's top, so the order is the same as with one heap. */
  private lane: QueuedEvent[] = []
  private laneHead = 0
  private seq = 0
  private t = 0
  processed = 0
  /** One-shot timer events that have run. */
  timeoutsFired = 0

  constructor(start = 0) { this.t = start }

  now(): number { return this.t }
  get size(): number { return this.n + this.lane.length - this.laneHead }

  at(time: number, fn: () => void, every = 0, timer = false): QueuedEvent {
    const e: QueuedEvent = { at: 0, seq: 0, fn, cancelled: false, every, fired: false, timer }
    this.push(e, time)
    return e
  }

  after(ms: number, fn: () => void, every = 0, timer = false): QueuedEvent { return this.at(this.t + ms, fn, every, timer) }

  /** Queues an event object the caller made itself (one that carries its own data, so no
   * closure is needed: the in-process network's datagrams in flight). One due no earlier than the
   * last one added this way joins the lane (no heap work: with one link delay, nearly every
   * datagram), any other the heap. */
  add(e: QueuedEvent, time: number): void {
    const lane = this.lane
    const at = Math.max(time, this.t)
    if (this.laneHead < lane.length && at < lane[lane.length - 1].at) { this.push(e, time); return }
    e.at = at
    e.seq = this.seq++
    if (this.laneHead === lane.length) { lane.length = 0; this.laneHead = 0 }
    lane.push(e)
  }

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
    while (this.laneHead < this.lane.length && this.lane[this.laneHead].cancelled) this.shift()
    const heap = this.n > 0 ? this.times[0] : Infinity
    return this.laneHead < this.lane.length ? Math.min(heap, this.lane[this.laneHead].at) : heap
  }

  /** Runs the next event if it is due by `until`; false when there is none. */
  step(until: number): boolean {
    if (this.nextAt() > until) return false
    const e = this.laneFirst() ? this.shift() : this.pop()
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

  /** Whether the lane's head comes before the heap's top (both live, one at least present). */
  private laneFirst(): boolean {
    if (this.laneHead === this.lane.length) return false
    if (this.n === 0) return true
    const e = this.lane[this.laneHead]
    return e.at < this.times[0] || (e.at === this.times[0] && e.seq < this.seqs[0])
  }

  private shift(): QueuedEvent {
    const lane = this.lane
    const e = lane[this.laneHead]
    lane[this.laneHead++] = undefined as unknown as QueuedEvent
    // Drop the run slots now and then, so the array does not grow with every datagram ever sent.
    if (this.laneHead >= 4096 && this.laneHead * 2 >= lane.length) { lane.splice(0, this.laneHead); this.laneHead = 0 }
    return e
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
