// The stripe period read from the source's signed chunk times, and the silences stretched by it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChunkPace } from '../../../src/mesh/stream/chunk-pace.ts'
import { PACED_FROM_MS, PARENT_TIMEOUT_MS, SOURCE_BURST_BYTES, paced, pacedBurst, sourceMayServe } from '../../../src/mesh/stream-policy.ts'

test('a steady stream: a stripe waits four chunk intervals; unknown until two chunks are heard', () => {
  const pace = new ChunkPace()
  assert.equal(pace.stripeMs(), undefined)
  pace.heard(7, 1000)
  assert.equal(pace.stripeMs(), undefined)
  for (let n = 0; n < 100; n++) pace.heard(n, 1000 + 524 * n)
  assert.equal(pace.stripeMs(), 4 * 524)
})

test('the pace follows a change of bitrate within the window; records already heard change nothing', () => {
  const pace = new ChunkPace()
  for (let n = 0; n < 40; n++) pace.heard(n, 524 * n)
  assert.equal(pace.stripeMs(), 4 * 524)
  pace.heard(3, 99_999) // already heard: ignored
  assert.equal(pace.stripeMs(), 4 * 524)
  // A faster stream later: once the slow chunks leave the window, its pace is read.
  for (let n = 40; n < 200; n++) pace.heard(n, 524 * 40 + 60 * (n - 40))
  assert.equal(pace.stripeMs(), 240)
})

test('silences are as tuned up to PACED_FROM_MS a stripe, then stretched by each period beyond, and a pause is not a pace', () => {
  assert.equal(paced(PARENT_TIMEOUT_MS, 2, undefined), PARENT_TIMEOUT_MS)
  assert.equal(paced(PARENT_TIMEOUT_MS, 2, 280), PARENT_TIMEOUT_MS)
  assert.equal(paced(PARENT_TIMEOUT_MS, 2, PACED_FROM_MS + 1000), PARENT_TIMEOUT_MS + 2000)
  assert.equal(paced(1000, 1, 60_000), paced(1000, 1, 5000))
})

test("the source's byte bursts are the same share of a slower stream's bytes, read from its mean pace", () => {
  assert.equal(pacedBurst(SOURCE_BURST_BYTES, undefined), SOURCE_BURST_BYTES)
  assert.equal(pacedBurst(SOURCE_BURST_BYTES, 65.5), SOURCE_BURST_BYTES)
  // 250 kb/s: a chunk every 524 ms, a fifth of the burst (100 ms a chunk and faster keep it whole).
  assert.equal(pacedBurst(SOURCE_BURST_BYTES, 500), Math.round(SOURCE_BURST_BYTES / 5))
  // Nothing produced yet: 100 KiB of pulls is within a fast stream's burst, past a slow one's.
  assert.equal(sourceMayServe(100 * 1024, 0, 65.5), true)
  assert.equal(sourceMayServe(100 * 1024, 0, 524), false)
})

test('a hiccup of the source (one chunk signed 600 ms late, the rest on time) hardly moves the pace', () => {
  const pace = new ChunkPace()
  for (let n = 0; n < 64; n++) pace.heard(n, 65.5 * n + (n === 40 ? 600 : 0))
  assert.ok(Math.abs((pace.chunkMs() ?? 0) - 65.5) < 1)
  assert.ok(Math.abs((pace.stripeMs() ?? 0) - 262) < 4)
  // As the source's catch-up after a stall: chunks signed together, then on time again.
  for (let n = 64; n < 128; n++) pace.heard(n, n >= 90 && n < 100 ? 65.5 * 100 : 65.5 * n)
  assert.ok(Math.abs((pace.chunkMs() ?? 0) - 65.5) < 1)
})
