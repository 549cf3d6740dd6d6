import { test } from 'node:test'
import { randomBytes } from 'node:crypto'
import assert from 'node:assert/strict'
import { generateStreamKey } from '../../src/store/keys.ts'
import { makeStreamId } from '../../src/store/stream-id.ts'
import { CHUNK_SIZE, type StreamHead } from '../../src/store/stream-types.ts'
import { isStoreError } from '../../src/store/errors.ts'
import {
  signChunk, signHead, signInfo, signSegment, verifyBlock, verifyChunkBytes, verifyChunkRecord, verifyHead, verifyInfo, verifySegment,
} from '../../src/store/verify.ts'

const key = generateStreamKey()
const other = generateStreamKey()
const id = makeStreamId(key.publicKeyHex, 'live')
const otherId = makeStreamId(other.publicKeyHex, 'live')
const bytes = Buffer.alloc(CHUNK_SIZE, 7)

test('chunk record: accept, tampered fields reject, other key rejects', () => {
  const rec = signChunk(key, id, 3, bytes, 1000)
  assert.deepEqual(verifyChunkRecord(id, rec), { result: 'accept' })
  assert.equal(verifyChunkRecord(id, { ...rec, n: 4 }).result, 'reject')
  assert.equal(verifyChunkRecord(id, { ...rec, time: 1001 }).result, 'reject')
  assert.equal(verifyChunkRecord(makeStreamId(key.publicKeyHex, 'other'), rec).result, 'reject', 'bound to the stream id')
  const forged = signChunk(other, otherId, 3, bytes, 1000)
  assert.equal(verifyChunkRecord(id, forged).result, 'reject', 'signed by another key')
  assert.equal(verifyChunkRecord(id, { ...rec, length: CHUNK_SIZE + 1 }).result, 'reject')
  assert.equal(verifyChunkRecord(id, { ...rec, n: -1 }).result, 'reject')
  assert.equal(verifyChunkRecord(id, { ...rec, n: 1.5 }).result, 'reject')
  assert.equal(verifyChunkRecord(id, { ...rec, sha256: rec.sha256.slice(4) }).result, 'reject')
  assert.equal(verifyChunkRecord(id, { ...rec, sig: 'AAAA' }).result, 'reject')
  assert.equal(verifyChunkRecord(id, null).result, 'reject')
  assert.equal(verifyChunkRecord('not an id', rec).result, 'reject')
})

test('chunk bytes: accept exact bytes, reject tampered or truncated', () => {
  const rec = signChunk(key, id, 0, bytes, 1)
  assert.equal(verifyChunkBytes(rec, bytes).result, 'accept')
  const bad = Buffer.from(bytes)
  bad[100] ^= 0xff
  assert.equal(verifyChunkBytes(rec, bad).result, 'reject')
  assert.equal(verifyChunkBytes(rec, bytes.subarray(1)).result, 'reject')
  // Right SHA-256 but a wrong block BLAKE3 in a record still rejects.
  const short = Buffer.from('short final chunk')
  const rec2 = signChunk(key, id, 9, short, 1)
  assert.equal(verifyChunkBytes(rec2, short).result, 'accept')
  assert.equal(verifyChunkBytes({ ...rec2, blocks: [rec.blocks[0]] }, short).result, 'reject')
})

test('blocks: each 4096-byte block is checked alone against its signed BLAKE3', () => {
  const bytes = randomBytes(CHUNK_SIZE)
  const rec = signChunk(key, id, 0, bytes, 1)
  assert.equal(rec.blocks.length, 4)
  for (let i = 0; i < rec.blocks.length; i++) {
    const block = bytes.subarray(i * 4096, (i + 1) * 4096)
    assert.equal(verifyBlock(rec, i, block).result, 'accept', `block ${i}`)
    const bad = Buffer.from(block)
    bad[7] ^= 1
    assert.equal(verifyBlock(rec, i, bad).result, 'reject', `tampered block ${i}`)
  }
  assert.equal(verifyBlock(rec, 1, bytes.subarray(0, 4096)).result, 'reject', 'a block in the wrong slot')
  assert.equal(verifyBlock(rec, rec.blocks.length, Buffer.alloc(4096)).result, 'reject', 'past the chunk')
  assert.equal(verifyBlock(rec, 0, bytes.subarray(0, 4095)).result, 'reject', 'short block')
  // The block hashes are signed: swapping one in a record breaks the signature.
  assert.equal(verifyChunkRecord(id, { ...rec, blocks: [rec.blocks[1], ...rec.blocks.slice(1)] }).result, 'reject')
  assert.equal(verifyChunkRecord(id, { ...rec, blocks: rec.blocks.slice(1) }).result, 'reject', 'a hash per block')
})

test('signing refuses insane fields and foreign ids', () => {
  assert.throws(() => signChunk(key, otherId, 0, bytes, 1), (e) => isStoreError(e, 'ERR_BAD_ID'))
  assert.throws(() => signChunk(key, id, 0, Buffer.alloc(0), 1), (e) => isStoreError(e, 'ERR_BAD_RECORD'))
  assert.throws(() => signChunk(key, id, 0, Buffer.alloc(CHUNK_SIZE + 1), 1), (e) => isStoreError(e, 'ERR_BAD_RECORD'))
  assert.throws(() => signSegment(key, id, { n: 0, offset: 0, length: 0, duration: 1, pdt: 0, discontinuity: false }), (e) => isStoreError(e, 'ERR_BAD_RECORD'))
})

test('segment: accept, tamper rejects, other key rejects', () => {
  const seg = signSegment(key, id, { n: 2, offset: 1000, length: 5000, duration: 1.001, pdt: 1_700_000_000_123, discontinuity: true })
  assert.equal(verifySegment(id, seg).result, 'accept')
  assert.equal(verifySegment(id, JSON.parse(JSON.stringify(seg))).result, 'accept', 'survives JSON')
  assert.equal(verifySegment(id, { ...seg, discontinuity: false }).result, 'reject')
  assert.equal(verifySegment(id, { ...seg, duration: 1.002 }).result, 'reject')
  assert.equal(verifySegment(id, { ...seg, duration: 0 }).result, 'reject')
  assert.equal(verifySegment(id, signSegment(other, otherId, { ...seg })).result, 'reject')
})

test('info: accept, tamper and wrong stream reject', () => {
  const info = signInfo(key, { id, format: 'fmp4', init: { offset: 0, length: 1360 }, targetDuration: 1, created: 5 })
  assert.equal(verifyInfo(id, info).result, 'accept')
  assert.equal(verifyInfo(id, { ...info, init: null }).result, 'reject')
  assert.equal(verifyInfo(id, { ...info, format: 'ts' }).result, 'reject')
  assert.equal(verifyInfo(otherId, info).result, 'reject')
  const ts = signInfo(key, { id, format: 'ts', init: null, targetDuration: 2, created: 5 })
  assert.equal(verifyInfo(id, ts).result, 'accept')
})

function head(fields: Partial<StreamHead> = {}): StreamHead {
  return signHead(key, { id, chunks: 10, length: 10 * CHUNK_SIZE, segments: 3, time: 5000, ended: false, ...fields })
}

test('head: accept newer, ignore replayed/stale and duplicate, reject forged', () => {
  const h1 = head()
  assert.equal(verifyHead(id, h1, null).result, 'accept')
  const h2 = head({ chunks: 11, length: 11 * CHUNK_SIZE, time: 5100 })
  assert.equal(verifyHead(id, h2, h1).result, 'accept')
  const replay = verifyHead(id, h1, h2)
  assert.equal(replay.result, 'ignore')
  assert.equal(replay.result === 'ignore' && replay.reason, 'stale')
  assert.equal(verifyHead(id, head({ time: 4000 }), h1).result, 'ignore', 'older time')
  assert.equal(verifyHead(id, h1, h1).result, 'ignore')
  assert.equal(verifyHead(id, { ...h2, chunks: 12, length: 12 * CHUNK_SIZE }, h1).result, 'reject', 'tampered')
  const forged = signHead(other, { id: otherId, chunks: 99, length: 99 * CHUNK_SIZE, segments: 9, time: 9999, ended: false })
  assert.equal(verifyHead(id, { ...forged, id }, h1).result, 'reject')
  assert.equal(verifyHead(id, forged, h1).result, 'reject', 'head for another stream')
  const ended = head({ chunks: 12, length: 11 * CHUNK_SIZE + 5, time: 6000, ended: true })
  assert.equal(verifyHead(id, ended, h2).result, 'accept')
  assert.equal(verifyHead(id, head({ chunks: 13, length: 13 * CHUNK_SIZE, time: 7000 }), ended).result, 'ignore', 'nothing after the end')
})

test('head field sanity: length must agree with chunks', () => {
  assert.throws(() => head({ length: 10 * CHUNK_SIZE - 1 }), (e) => isStoreError(e, 'ERR_BAD_RECORD'))
  assert.throws(() => head({ chunks: 1, length: 0 }), (e) => isStoreError(e, 'ERR_BAD_RECORD'))
  assert.equal(verifyHead(id, head({ chunks: 0, length: 0, segments: 0 }), null).result, 'accept')
})
