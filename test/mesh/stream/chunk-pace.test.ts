// The stripe period read from the source's signed chunk times, and the silences stretched by it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChunkPace } from '../../../src/mesh/stream/chunk-pace.ts'
import { PACED_FROM_MS, PARENT_TIMEOUT_MS, SOURCE_BURST_BYTES, paced, pacedBurst, sourceMayServe } from '../../../src/mesh/stream-policy.ts'

test('a steady stream: a stripe waits four chunk intervals; unknown until two chunks of a stripe are heard', () => {
  const pace = new ChunkPace()
  assert.equal(pace.stripeMs(), undefined)
  for (let n = 0; n < 4; n++) pace.heard(n, 1000 + 524 * n)
  assert.equal(pace.stripeMs(), undefined)
  for (let n = 4; n < 100; n++) pace.heard(n, 1000 + 524 * n)
  assert.equal(pace.stripeMs(), 4 * 524)
})

test('a bursty feed (a segment written at once) counts its longest wait; records out of order and old ones change nothing', () => {
  const pace = new ChunkPace()
  // Ten chunks a second, all signed at the second.
  for (let n = 0; n < 40; n++) pace.heard(n, 1000 * Math.floor(n / 10))
  assert.equal(pace.stripeMs(), 1000)
  pace.heard(3, 99_999) // already heard: ignored
  assert.equal(pace.stripeMs(), 1000)
  // A faster stream later: once the slow chunks leave the window, its pace is read.
  for (let n = 40; n < 200; n++) pace.heard(n, 4000 + 60 * (n - 40))
  assert.equal(pace.stripeMs(), 240)
})

test('silences are as tuned up to PACED_FROM_MS a stripe, then stretched by each period beyond, and a pause is not a pace', () => {
  assert.equal(paced(PARENT_TIMEOUT_MS, 2, undefined), PARENT_TIMEOUT_MS)
  assert.equal(paced(PARENT_TIMEOUT_MS, 2, 280), PARENT_TIMEOUT_MS)
  assert.equal(paced(PARENT_TIMEOUT_MS, 2, PACED_FROM_MS + 1000), PARENT_TIMEOUT_MS + 2000)
  assert.equal(paced(1000, 1, 60_000), paced(1000, 1, 5000))
})

test("the source's byte bursts are the same share of a slower stream's bytes", () => {
  assert.equal(pacedBurst(SOURCE_BURST_BYTES, undefined), SOURCE_BURST_BYTES)
  assert.equal(pacedBurst(SOURCE_BURST_BYTES, 280), SOURCE_BURST_BYTES)
  // 250 kb/s: a stripe waits 2.1 s, the burst is a fifth of 2 Mb/s's.
  assert.equal(pacedBurst(SOURCE_BURST_BYTES, 5 * PACED_FROM_MS), Math.round(SOURCE_BURST_BYTES / 5))
  // Nothing produced yet: 100 KiB of pulls is within a fast stream's burst, past a slow one's.
  assert.equal(sourceMayServe(100 * 1024, 0, 280), true)
  assert.equal(sourceMayServe(100 * 1024, 0, 2100), false)
})
