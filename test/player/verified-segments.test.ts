import { test } from 'node:test'
import assert from 'node:assert/strict'
import { playableRun, playableStart, verifiedSegments } from '../../src/player/verified-segments.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { FakeStreamLog } from './fake-log.ts'

/** A log of `count` segments, each exactly one chunk, all verified. */
function chunkPerSegment(count: number, opts: ConstructorParameters<typeof FakeStreamLog>[0] = {}): FakeStreamLog {
  const log = new FakeStreamLog(opts)
  for (let i = 0; i < count; i++) log.addSegment(CHUNK_SIZE)
  log.verify()
  return log
}

test('verifiedSegments returns the newest contiguous verified run; a hole stops it', () => {
  const log = chunkPerSegment(10)
  assert.deepEqual(verifiedSegments(log).map((s) => s.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  log.unverify(6)
  assert.deepEqual(verifiedSegments(log).map((s) => s.n), [7, 8, 9])
  log.unverify(9)
  assert.deepEqual(verifiedSegments(log).map((s) => s.n), [7, 8], 'the run ends at the newest verified segment')
  assert.deepEqual(verifiedSegments(log, 1).map((s) => s.n), [8])
})

test('a segment straddling an unverified chunk is not playable', () => {
  const log = new FakeStreamLog()
  log.addSegment(CHUNK_SIZE / 2)
  log.addSegment(CHUNK_SIZE) // covers chunks 0 and 1
  log.addSegment(CHUNK_SIZE / 2)
  log.verify(0)
  assert.deepEqual(verifiedSegments(log).map((s) => s.n), [0])
  log.verify(1)
  assert.deepEqual(verifiedSegments(log).map((s) => s.n), [0, 1, 2])
})

test('playableRun: null without info, the window live and ended, ended once the last segment is verified, a floor', () => {
  assert.equal(playableRun(new FakeStreamLog({ withInfo: false }), 6), null)
  const log = chunkPerSegment(10)
  assert.deepEqual(playableRun(log, 3)?.segments.map((s) => s.n), [7, 8, 9])
  log.end()
  log.unverify(9)
  let run = playableRun(log, 3)!
  assert.equal(run.ended, false, 'ENDLIST waits for the last segment')
  assert.deepEqual(run.segments.map((s) => s.n), [6, 7, 8])
  log.verify(9)
  run = playableRun(log, 3)!
  assert.equal(run.ended, true)
  assert.deepEqual(run.segments.map((s) => s.n), [7, 8, 9])
  assert.deepEqual(playableRun(log, 3, 9)!.segments.map((s) => s.n), [9], 'nothing below the floor')
})


test('fMP4 segments are held back until the init segment is verified', () => {
  const log = new FakeStreamLog({ format: 'fmp4', init: { offset: 0, length: 1000 } })
  log.addSegment(CHUNK_SIZE * 2)
  log.verify(1, 2)
  assert.deepEqual(playableRun(log, 6)!.segments, [])
  log.verify(0)
  assert.equal(playableRun(log, 6)!.segments.length, 1)
})

test('playableStart: a page starts hls.js at once only when the playlist lists a complete verified segment', () => {
  assert.equal(playableStart(new FakeStreamLog({ withInfo: false }), 100), null, 'no signed info yet')
  const whole = new FakeStreamLog()
  assert.equal(playableStart(whole, 100), null, 'no segment yet')
  whole.addSegment(CHUNK_SIZE)
  assert.equal(playableStart(whole, 100), null, 'its bytes are not verified')
  whole.verify()
  assert.equal(playableStart(whole, 100), 'normal')

  // Low latency: parts of segment 0 alone make no complete segment; the first part of segment 1 does.
  const ll = new FakeStreamLog()
  for (let i = 0; i < 4; i++) ll.addSegment(CHUNK_SIZE, { duration: 0.24, part: { msn: 0, index: i, independent: i === 0 } })
  ll.verify()
  assert.equal(playableStart(ll, 100), null, 'the newest segment is still being written')
  ll.addSegment(CHUNK_SIZE, { duration: 0.24, part: { msn: 1, index: 0, independent: true } })
  assert.equal(playableStart(ll, 100), null, 'the part that completes segment 0 is not verified yet')
  ll.verify()
  assert.equal(playableStart(ll, 100), 'low')
})
