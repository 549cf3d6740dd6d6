// The virtual clock's queue runs events in (time, order scheduled) order whatever the mix of
// timeouts, intervals, cancellations and events scheduled while running: a seed replays a run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { EventQueue } from '../../src/util/event-queue.ts'
import { seededRandom } from '../../src/util/timers.ts'

test('EventQueue runs events by time, then in the order they were scheduled, through growth, cancels and events scheduled while running', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ at: fc.integer({ min: 0, max: 400 }), frac: fc.boolean(), cancel: fc.boolean(), spawn: fc.integer({ min: -1, max: 30 }), lane: fc.boolean() }), { maxLength: 3000 }),
    (plan) => {
      const q = new EventQueue(0)
      const ran: Array<{ t: number; id: number }> = []
      // The reference: every event kept with its time and sequence, sorted as the queue must run them.
      let seq = 0
      const want: Array<{ t: number; seq: number; id: number }> = []
      const end = 500
      // `lane`: through add() (the lane when in time order, else the heap), as the network queues
      // datagrams; otherwise through at(), as timers are.
      const put = (at: number, fn: () => void, lane: boolean): ReturnType<EventQueue['at']> => {
        if (!lane) return q.at(at, fn)
        const e = { at: 0, seq: 0, fn, cancelled: false, every: 0, fired: false, timer: false }
        q.add(e, at)
        return e
      }
      const schedule = (id: number, at: number, spawn: number, lane: boolean): ReturnType<EventQueue['at']> => {
        want.push({ t: at, seq: seq++, id })
        return put(at, () => {
          ran.push({ t: q.now(), id })
          if (spawn >= 0 && id < 1_000_000) want.push({ t: q.now() + spawn, seq: seq++, id: id + 1_000_000 })
          if (spawn >= 0 && id < 1_000_000) put(q.now() + spawn, () => ran.push({ t: q.now(), id: id + 1_000_000 }), lane)
        }, lane)
      }
      const cancelled = new Set<number>()
      plan.forEach((p, id) => {
        const e = schedule(id, p.at + (p.frac ? 0.25 : 0), p.spawn, p.lane)
        if (p.cancel) { e.cancelled = true; cancelled.add(id) }
      })
      q.run(end)
      const expected = want.filter((w) => !cancelled.has(w.id) && w.t <= end).sort((a, b) => a.t - b.t || a.seq - b.seq)
      assert.deepEqual(ran.map((r) => r.id), expected.map((w) => w.id))
      for (let i = 1; i < ran.length; i++) assert.ok(ran[i].t >= ran[i - 1].t, 'time never goes back')
      assert.equal(q.now(), end)
    }), { numRuns: 60 })
})

test('EventQueue: an interval comes back every period until cancelled, and nextAt skips cancelled events', () => {
  const q = new EventQueue(1000)
  const runs: number[] = []
  const every = q.after(10, () => { runs.push(q.now()); if (runs.length === 3) every.cancelled = true }, 10)
  const gone = q.after(5, () => runs.push(-1))
  gone.cancelled = true
  assert.equal(q.nextAt(), 1010)
  q.run(2000)
  assert.deepEqual(runs, [1010, 1020, 1030])
  assert.equal(q.nextAt(), Infinity)
  assert.equal(q.size, 0)
})

test('EventQueue: events added in time order (datagrams in flight) run in order beside timers, one lane', () => {
  const q = new EventQueue(0)
  const ran: number[] = []
  let expected = 0
  // 20,000 datagrams one link delay (25 ms) after they were sent, a tick every 50 ms between them.
  q.after(50, () => ran.push(-1), 50)
  for (let i = 0; i < 20_000; i++) {
    const id = i
    q.add({ at: 0, seq: 0, fn: () => ran.push(id), cancelled: false, every: 0, fired: false, timer: false }, i / 10 + 25)
  }
  q.run(3000)
  const datagrams = ran.filter((r) => r >= 0)
  for (const id of datagrams) assert.equal(id, expected++, 'datagrams land in the order sent')
  assert.equal(datagrams.length, 20_000)
  assert.equal(ran.filter((r) => r < 0).length, 60)
  assert.equal(q.size, 1, 'only the interval is left')
})

test('EventQueue: lane and heap together keep (time, order scheduled) order when their times tie', () => {
  // A coarse grid of times, so that events of the lane and of the heap often fall on one instant.
  const rnd = seededRandom(7)
  for (let round = 0; round < 20; round++) {
    const q = new EventQueue(0)
    const ran: number[] = []
    const want: Array<{ t: number; id: number }> = []
    for (let id = 0; id < 2000; id++) {
      const at = Math.floor(rnd() * 40) + (rnd() < 0.5 ? 0.25 : 0)
      want.push({ t: at, id })
      if (rnd() < 0.5) q.at(at, () => ran.push(id))
      else q.add({ at: 0, seq: 0, fn: () => ran.push(id), cancelled: false, every: 0, fired: false, timer: false }, at)
    }
    q.run(100)
    // Sorted by time, stable: ids are in scheduling order.
    assert.deepEqual(ran, want.sort((a, b) => a.t - b.t || a.id - b.id).map((w) => w.id))
  }
})
