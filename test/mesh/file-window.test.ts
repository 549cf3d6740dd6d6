import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MAX_WINDOW, MIN_RTO_MS, QUEUE_TARGET_MS, RequestWindow } from '../../src/mesh/request-window.ts'
import { BlockPlan, MAX_REQUESTS_PER_BLOCK } from '../../src/mesh/block-plan.ts'

test('request window: slow start doubles per round trip, one loss event halves it once, the cap holds', () => {
  const w = new RequestWindow({ initial: 4 })
  for (let round = 0; round < 3; round++) {
    const n = w.room
    for (let i = 0; i < n; i++) w.sent()
    for (let i = 0; i < n; i++) w.acked(5)
  }
  assert.equal(w.cwnd, 32)
  const seqs = Array.from({ length: 32 }, () => w.sent())
  w.lost(seqs[0], false)
  w.lost(seqs[1], false) // the same loss event: no second cut
  assert.equal(w.cwnd, 16)
  assert.equal(w.inFlight, 30)
  for (let i = 0; i < 10_000; i++) { w.sent(); w.acked(5) }
  assert.ok(w.cwnd <= MAX_WINDOW)
})

test('request window: growth stops when round trips show a queue; timeouts back off; the floor holds', () => {
  const w = new RequestWindow({ initial: 8 })
  w.sent(); w.acked(2)
  const before = w.cwnd
  for (let i = 0; i < 20; i++) { w.sent(); w.acked(2 + QUEUE_TARGET_MS + 10) }
  assert.equal(w.cwnd, before, 'no growth while requests queue')
  assert.equal(w.rtoMs, MIN_RTO_MS)
  const s = w.sent()
  w.lost(s, true)
  assert.equal(w.rtoMs, 2 * MIN_RTO_MS, 'a timeout doubles the next one')
  w.sent(); w.acked()
  assert.equal(w.rtoMs, MIN_RTO_MS, 'an answer resets the backoff')
})

test('block plan: first missing first, had blocks skipped, released blocks come back, endgame duplicates capped', () => {
  const plan = new BlockPlan(10, (i) => i === 1 || i === 4)
  assert.equal(plan.had, 2)
  assert.deepEqual(plan.take(1), { first: 0, count: 1 })
  assert.deepEqual(plan.take(5), { first: 2, count: 2 }, 'a run stops at a had block')
  assert.deepEqual(plan.take(10), { first: 5, count: 5 })
  assert.equal(plan.take(1), undefined)
  plan.release(3)
  assert.deepEqual(plan.take(3), { first: 3, count: 1 })
  for (let i = 1; i < MAX_REQUESTS_PER_BLOCK; i++) assert.ok(plan.duplicate(7))
  assert.ok(!plan.duplicate(7), 'no more than the cap')
  assert.ok(plan.markHad(7))
  assert.ok(!plan.markHad(7), 'a duplicate answer')
  assert.ok(!plan.duplicate(7))
  for (const i of [0, 2, 3, 5, 6, 8, 9]) plan.markHad(i)
  assert.ok(plan.done)
  plan.unmark(6)
  assert.ok(!plan.done)
})
