// A record a replica already holds is ignored before its signature is checked (same-record.ts):
// a relay hears each chunk's record with every push, pull answer and duplicate. Counted through
// the log's injected verifier: a record received twice is verified once, and a forged twin of a
// held record (same fields, another signature, or one signed field changed) is still verified
// and rejected.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { recordVerifier, type RecordVerifier } from '../../src/store/record-verifier.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { bytesOf, defer, tempDir } from './helpers.ts'
import { claimedIndex } from '../../src/store/same-record.ts'

type Kind = 'chunkRecord' | 'segment' | 'head' | 'info'

function countingVerifier(): { verifier: RecordVerifier; calls: Record<Kind, number> } {
  const calls: Record<Kind, number> = { chunkRecord: 0, segment: 0, head: 0, info: 0 }
  const verifier: RecordVerifier = {
    ...recordVerifier,
    chunkRecord: (id, rec) => { calls.chunkRecord++; return recordVerifier.chunkRecord(id, rec) },
    segment: (id, rec) => { calls.segment++; return recordVerifier.segment(id, rec) },
    head: (id, head, current) => { calls.head++; return recordVerifier.head(id, head, current) },
    info: (id, info) => { calls.info++; return recordVerifier.info(id, info) },
  }
  return { verifier, calls }
}

async function sourceAndReplica(t: Parameters<typeof tempDir>[0]) {
  const key = generateStreamKey()
  const src = await StreamLog.createSource(await tempDir(t), key, 'live', { format: 'fmp4', init: { offset: 0, length: 500 }, targetDuration: 2 })
  defer(t, () => src.close())
  await src.append(bytesOf(3 * CHUNK_SIZE, 3))
  await src.addSegment({ offset: 0, length: 1000, duration: 1, pdt: 1_700_000_000_000, discontinuity: false })
  const { verifier, calls } = countingVerifier()
  const rep = await StreamLog.openReplica(await tempDir(t), src.id, { verifier })
  defer(t, () => rep.close())
  return { src, rep, calls }
}

/** A copy as it comes off the wire: a new object, not the one the source holds. */
const received = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T
/** The same record under another valid-looking signature: one bit of it flipped. */
function otherSig(sig: string): string {
  const b = Buffer.from(sig, 'base64')
  b[7] ^= 1
  return b.toString('base64')
}

test('a chunk record received twice is verified once; a forged twin is verified and rejected', async (t) => {
  const { src, rep, calls } = await sourceAndReplica(t)
  const rec = src.chunkRecord(1)!
  assert.equal(rep.putChunkRecord(received(rec)).result, 'accept')
  assert.equal(calls.chunkRecord, 1)
  assert.deepEqual(rep.putChunkRecord(received(rec)), { result: 'ignore', reason: 'duplicate' })
  assert.deepEqual(rep.putChunkRecord({ ...received(rec), extra: 'a key beside the record' }), { result: 'ignore', reason: 'duplicate' })
  assert.equal(calls.chunkRecord, 1, 'the held record is not verified again')

  const forged = rep.putChunkRecord({ ...received(rec), sig: otherSig(rec.sig) })
  assert.equal(forged.result, 'reject')
  assert.equal(calls.chunkRecord, 2)
  const moved = rep.putChunkRecord({ ...received(rec), time: rec.time + 1 })
  assert.equal(moved.result, 'reject', 'a signed field changed under the held signature')
  const blocks = rep.putChunkRecord({ ...received(rec), blocks: [...rec.blocks].reverse() })
  assert.equal(blocks.result, 'reject')
  assert.equal(calls.chunkRecord, 4)
  assert.deepEqual(rep.chunkRecord(1), rec, 'what is held did not change')
})

test('a segment, head and info received twice are verified once; forged twins are rejected', async (t) => {
  const { src, rep, calls } = await sourceAndReplica(t)
  const seg = src.segment(0)!
  assert.equal(rep.putSegment(received(seg)).result, 'accept')
  assert.equal(rep.putSegment(received(seg)).result, 'ignore')
  assert.equal(calls.segment, 1)
  // A part position is signed when present: the held whole segment with one added is another record.
  assert.equal(rep.putSegment({ ...received(seg), part: { msn: 0, index: 0, independent: true } }).result, 'reject')
  assert.equal(rep.putSegment({ ...received(seg), sig: otherSig(seg.sig) }).result, 'reject')
  assert.equal(calls.segment, 3)

  const head = src.head()!
  assert.equal(rep.putHead(received(head)).result, 'accept')
  assert.deepEqual(rep.putHead(received(head)), { result: 'ignore', reason: 'duplicate' })
  assert.equal(calls.head, 1)
  assert.equal(rep.putHead({ ...received(head), ended: true }).result, 'reject')
  assert.equal(calls.head, 2)

  const info = src.info()!
  assert.equal(rep.putInfo(received(info)).result, 'accept')
  assert.deepEqual(rep.putInfo(received(info)), { result: 'ignore', reason: 'duplicate' })
  assert.equal(calls.info, 1)
  assert.equal(rep.putInfo({ ...received(info), init: null }).result, 'reject')
  assert.equal(calls.info, 2)
})

test('a record whose fields throw when read is rejected, not thrown past the log', async (t) => {
  const { rep, calls } = await sourceAndReplica(t)
  const hostile = new Proxy({}, { get: () => { throw new Error('a getter a stranger wrote') } })
  assert.equal(rep.putChunkRecord(hostile).result, 'reject')
  assert.equal(rep.putSegment(hostile).result, 'reject')
  assert.equal(calls.chunkRecord + calls.segment, 2)
})

test('claimedIndex reads a record index once, and never throws', () => {
  let reads = 0
  // A getter that answers once and throws after: only a local caller can make one (JSON cannot).
  const x = { get n() { if (reads++ > 0) throw new Error('second read'); return 7 } }
  assert.equal(claimedIndex(x), 7)
  assert.equal(reads, 1)
  assert.equal(claimedIndex({ n: 'seven' }), undefined)
  assert.equal(claimedIndex(null), undefined)
})
