// Time and chance, injected. Every long-lived object that waits or draws a random number takes a
// Timers component, so the same code runs on the wall clock (realTimers) or on a virtual clock
// driven by an event queue (VirtualTimers): the simulator and the swarm tests run minutes of
// stream in seconds, and a seed replays a run byte for byte.
import { setImmediate as nextMacrotask } from 'node:timers/promises'
import { EventQueue, type QueuedEvent } from './event-queue.ts'

/** An opaque handle from setTimeout/setInterval, for clear(). */
export type Timer = { readonly __timer?: never } | object

export interface Timers {
  /** ms; wall-clock epoch time for realTimers, virtual time for VirtualTimers. */
  now(): number
  /** `background`: a long wait whose owner clears it at close, which must not keep the process
   * alive if that close never comes (a real timeout is then unref'd; virtual time ignores it). */
  setTimeout(fn: () => void, ms: number, opts?: { background?: boolean }): Timer
  /** Background intervals never keep a process alive (real intervals are unref'd). */
  setInterval(fn: () => void, ms: number): Timer
  clear(t: Timer | undefined): void
  /** A number in [0, 1): Math.random for realTimers, seeded for VirtualTimers. */
  random(): number
}

/** The part of Timers that only reads the clock. */
export type Clock = Pick<Timers, 'now'>

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms, opts) => {
    const t = setTimeout(fn, ms)
    return opts?.background === true ? t.unref() : t
  },
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clear: (t) => { if (t) clearTimeout(t as NodeJS.Timeout) },
  random: () => Math.random(),
}

/** Kept for callers that only read the clock. */
export const systemClock: Clock = realTimers

/** Seeded PRNG (mulberry32): the same seed replays the same sequence. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Virtual time: nothing happens until run() or runFor() moves the clock. */
export class VirtualTimers implements Timers {
  readonly queue: EventQueue
  readonly random: () => number
  /** Timers set, and those cleared while live. */
  private setCount = 0
  private clearedCount = 0

  constructor(init: { seed?: number; start?: number } = {}) {
    this.queue = new EventQueue(init.start ?? 0)
    this.random = seededRandom(init.seed ?? 1)
  }

  now(): number { return this.queue.now() }

  /** Timers set and neither fired (timeouts) nor cleared: what close() must leave at zero. */
  get active(): number { return this.setCount - this.clearedCount - this.queue.timeoutsFired }

  setTimeout(fn: () => void, ms: number): Timer {
    this.setCount++
    return this.queue.after(Math.max(0, ms), fn, 0, true)
  }

  setInterval(fn: () => void, ms: number): Timer {
    this.setCount++
    const every = Math.max(1, ms)
    return this.queue.after(every, fn, every, true)
  }

  clear(h: Timer | undefined): void {
    const e = h as QueuedEvent | undefined
    if (e === undefined || e.cancelled || e.fired) return
    e.cancelled = true
    this.clearedCount++
  }

  /** Runs events up to virtual time `until`. Promise continuations (an await in a handler) run
   * before the clock moves on: the queue yields to the microtask queue whenever time advances. */
  async run(until: number): Promise<void> {
    const q = this.queue
    for (;;) {
      const next = q.nextAt()
      if (next > until) break
      // Everything due at this instant, then let their awaits finish before time moves.
      while (q.nextAt() === next) q.step(next)
      await nextMacrotask()
    }
    q.advanceTo(until)
    await nextMacrotask()
  }

  runFor(ms: number): Promise<void> { return this.run(this.now() + ms) }

  /** Runs until `done()` holds or virtual time passes `limit`; returns whether it held. */
  async runUntil(done: () => boolean, limit: number): Promise<boolean> {
    const stepMs = 50
    while (!done()) {
      if (this.now() >= limit) return false
      await this.run(Math.min(limit, this.now() + stepMs))
    }
    return true
  }
}
