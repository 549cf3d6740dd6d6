// The virtual clock's queue runs events in (time, order scheduled) order whatever the mix of
// timeouts, intervals, cancellations and events scheduled while running: a seed replays a run.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { EventQueue } from '../../src/util/event-queue.ts'

test('EventQueue runs events by time, then in the order they were scheduled, through growth, cancels and events scheduled while running', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ at: fc.integer({ min: 0, max: 400 }), frac: fc.boolean(), cancel: fc.boolean(), spawn: fc.integer({ min: -1, max: 30 }) }), { maxLength: 3000 }),
    (plan) => {
      const q = new EventQueue(0)
      const ran: Array<{ t: number; id: number }> = []
      // The reference: every event kept with its time and sequence, sorted as the queue must run them.
      let seq = 0
      const want: Array<{ t: number; seq: number; id: number }> = []
      const end = 500
      const schedule = (id: number, at: number, spawn: number): ReturnType<EventQueue['at']> => {
        want.push({ t: at, seq: seq++, id })
        return q.at(at, () => {
          ran.push({ t: q.now(), id })
          if (spawn >= 0 && id < 1_000_000) want.push({ t: q.now() + spawn, seq: seq++, id: id + 1_000_000 })
          if (spawn >= 0 && id < 1_000_000) q.at(q.now() + spawn, () => ran.push({ t: q.now(), id: id + 1_000_000 }))
        })
      }
      const cancelled = new Set<number>()
      plan.forEach((p, id) => {
        const e = schedule(id, p.at + (p.frac ? 0.25 : 0), p.spawn)
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
