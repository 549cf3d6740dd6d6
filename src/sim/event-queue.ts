// A virtual clock with a binary-heap event queue: the simulator's only notion of time. Events at
// the same instant run in the order they were scheduled, so a run is deterministic for a seed.
import type { Clock } from '../util/clock.ts'

interface Ev { at: number; seq: number; fn: () => void }

export class EventQueue implements Clock {
  private heap: Ev[] = []
  private seq = 0
  private t = 0
  processed = 0

  now(): number { return this.t }

  at(time: number, fn: () => void): void {
    const e = { at: Math.max(time, this.t), seq: this.seq++, fn }
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

  after(ms: number, fn: () => void): void { this.at(this.t + ms, fn) }

  /** Runs events until the queue is empty or the clock would pass `until`. */
  run(until: number): void {
    const h = this.heap
    while (h.length > 0 && h[0].at <= until) {
      const top = h[0]
      const last = h.pop() as Ev
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
      this.t = top.at
      this.processed++
      top.fn()
    }
    this.t = Math.max(this.t, until)
  }
}

function less(a: Ev, b: Ev): boolean { return a.at < b.at || (a.at === b.at && a.seq < b.seq) }
