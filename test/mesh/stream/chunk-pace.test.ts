// The stripe period read from the source's signed chunk times, and the silences stretched by it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ChunkPace } from '../../../src/mesh/stream/chunk-pace.ts'
import { PACED_FROM_MS, PARENT_TIMEOUT_MS, paced } from '../../../src/mesh/stream-policy.ts'

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

test('a hiccup of the source (its newest chunk signed 600 ms late) leaves a 2 Mb/s stream unstretched', () => {
  const pace = new ChunkPace()
  for (let n = 0; n < 64; n++) pace.heard(n, 65.5 * n + (n === 63 ? 600 : 0))
  // The longest wait read 665 ms a chunk (a stripe period past 900 ms: every silence stretched);
  // the mean moves by 600 / 63 ms a chunk.
  assert.ok((pace.stripeMs() ?? Infinity) < PACED_FROM_MS, String(pace.stripeMs()))
  assert.equal(paced(PARENT_TIMEOUT_MS, 2, pace.stripeMs()), PARENT_TIMEOUT_MS)
})

test('a pause of the source (a 60 s restart) or its clock stepped back starts the window again', () => {
  const pace = new ChunkPace()
  for (let n = 0; n < 64; n++) pace.heard(n, 65.5 * n)
  // Averaged in, the pause read as 4 s a stripe for the next 64 chunks.
  pace.heard(64, 65.5 * 64 + 60_000)
  assert.ok(Math.abs((pace.stripeMs() ?? 0) - 262) < 1, 'one chunk after the pause: the pace before it')
  pace.heard(65, 65.5 * 65 + 60_000)
  assert.ok(Math.abs((pace.stripeMs() ?? 0) - 262) < 1, String(pace.stripeMs()))
  // A chunk from before the pause, heard late, is not read against those after it.
  pace.heard(10, 0)
  assert.ok(Math.abs((pace.stripeMs() ?? 0) - 262) < 1, String(pace.stripeMs()))
  // The clock stepped back an hour: not a stream too fast to stretch anything.
  const slow = new ChunkPace()
  for (let n = 0; n < 10; n++) slow.heard(n, 524 * n)
  slow.heard(10, 524 * 10 - 3_600_000)
  slow.heard(11, 524 * 11 - 3_600_000)
  assert.equal(slow.stripeMs(), 4 * 524)
})
