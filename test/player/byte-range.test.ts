import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { answerRange, parseRangeHeader, verifiedEnd } from '../../src/player/byte-range.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { FakeStreamLog } from './fake-log.ts'

test('parseRangeHeader accepts closed, open and suffix ranges', () => {
  assert.deepEqual(parseRangeHeader(undefined), { kind: 'none' })
  assert.deepEqual(parseRangeHeader('bytes=0-99'), { kind: 'range', start: 0, end: 99 })
  assert.deepEqual(parseRangeHeader('bytes=100-'), { kind: 'range', start: 100, end: null })
  assert.deepEqual(parseRangeHeader('bytes=-500'), { kind: 'suffix', length: 500 })
})

test('parseRangeHeader refuses malformed, reversed, multiple and huge ranges', () => {
  for (const h of ['bytes=', 'bytes=-', 'bytes=5-1', 'bytes=0-1,4-5', 'items=0-1', 'bytes=a-b', 'bytes=-0',
    'bytes=0-9999999999999999', 'bytes=1e3-', '']) {
    assert.equal(parseRangeHeader(h).kind, 'invalid', h)
  }
})

test('parseRangeHeader never throws and returns only safe integers', () => {
  fc.assert(fc.property(fc.string(), (s) => {
    const r = parseRangeHeader(s)
    if (r.kind === 'range') assert.ok(Number.isSafeInteger(r.start) && (r.end === null || Number.isSafeInteger(r.end)))
    if (r.kind === 'suffix') assert.ok(Number.isSafeInteger(r.length) && r.length > 0)
  }))
})

function log3(): FakeStreamLog {
  const log = new FakeStreamLog()
  log.appendBytes(CHUNK_SIZE * 2 + 100) // chunks 0, 1 and a short chunk 2
  return log
}

test('open ranges clamp to the verified bytes contiguous from their start', () => {
  const log = log3()
  log.verify(0, 2)
  assert.equal(verifiedEnd(log, 10), CHUNK_SIZE)
  assert.deepEqual(answerRange(log, { kind: 'range', start: 10, end: null }), { status: 206, start: 10, end: CHUNK_SIZE, total: null })
  assert.equal(answerRange(log, { kind: 'range', start: CHUNK_SIZE, end: null }).status, 416)
  log.verify(1)
  assert.equal(verifiedEnd(log, 0), CHUNK_SIZE * 2 + 100)
  assert.equal(answerRange(log, { kind: 'range', start: CHUNK_SIZE * 2 + 100, end: null }).status, 416)
})

test('closed ranges must be verified in full; once ended they clamp to the length', () => {
  const log = log3()
  log.verify(0, 2)
  assert.equal(answerRange(log, { kind: 'range', start: 0, end: CHUNK_SIZE - 1 }).status, 206)
  assert.equal(answerRange(log, { kind: 'range', start: 0, end: CHUNK_SIZE }).status, 416)
  log.verify(1)
  assert.equal(answerRange(log, { kind: 'range', start: 0, end: CHUNK_SIZE * 5 }).status, 416, 'live: no clamping past what exists')
  log.end()
  assert.deepEqual(answerRange(log, { kind: 'range', start: 5, end: CHUNK_SIZE * 5 }),
    { status: 206, start: 5, end: CHUNK_SIZE * 2 + 100, total: CHUNK_SIZE * 2 + 100 })
})

test('suffix ranges take the tail of the newest verified run', () => {
  const log = log3()
  log.verify(1)
  assert.deepEqual(answerRange(log, { kind: 'suffix', length: 50 }), { status: 206, start: CHUNK_SIZE * 2 - 50, end: CHUNK_SIZE * 2, total: null })
  assert.deepEqual(answerRange(log, { kind: 'suffix', length: 1e9 }), { status: 206, start: CHUNK_SIZE, end: CHUNK_SIZE * 2, total: null })
  assert.equal(answerRange(new FakeStreamLog(), { kind: 'suffix', length: 5 }).status, 416)
})

test('a request without Range gets the whole stream only once it ended and is fully verified', () => {
  const log = log3()
  log.verify()
  assert.equal(answerRange(log, { kind: 'none' }).status, 416)
  log.end()
  assert.deepEqual(answerRange(log, { kind: 'none' }), { status: 200, start: 0, end: CHUNK_SIZE * 2 + 100, total: CHUNK_SIZE * 2 + 100 })
  log.unverify(1)
  assert.equal(answerRange(log, { kind: 'none' }).status, 416)
})
