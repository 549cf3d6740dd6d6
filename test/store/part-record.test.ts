// Low-latency part records: a segment record with `part` (msn, index, independent), signed as
// cjp2p-stream/segment/v2. The part's position and byte offsets are under the signature: a relay
// that moves a part boundary (or drops the part fields to pass it off as a whole segment) is caught.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateStreamKey } from '../../src/store/keys.ts'
import { makeStreamId } from '../../src/store/stream-id.ts'
import { isSegmentRecordShape, signSegment, verifySegment } from '../../src/store/verify.ts'
import { pickSegmentRecord, segmentRecordProblem, MAX_PARTS_PER_SEGMENT } from '../../src/store/record-shape.ts'
import { segmentSigningBytes } from '../../src/store/signing-bytes.ts'
import { decodeDatagram, encodeDatagram } from '../../src/mesh/messages.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { bytesOf, defer, tempDir } from './helpers.ts'

const key = generateStreamKey()
const id = makeStreamId(key.publicKeyHex, 'parts')
const fields = { n: 41, offset: 655360, length: 50123, duration: 0.24, pdt: 1_700_000_000_240, discontinuity: false, part: { msn: 10, index: 1, independent: false } }

test('a signed part record verifies, and its part position survives pick', () => {
  const rec = signSegment(key, id, fields)
  assert.deepEqual(rec.part, fields.part)
  assert.equal(verifySegment(id, rec).result, 'accept')
  assert.deepEqual(pickSegmentRecord({ ...rec, extra: 1 } as never), rec)
})

test('a part record signs v2 bytes; a whole segment keeps the v1 bytes it always had', () => {
  const { part: _, ...whole } = fields
  assert.ok(segmentSigningBytes(id, fields).toString().startsWith('cjp2p-stream/segment/v2\n'))
  assert.equal(segmentSigningBytes(id, whole).toString(), `cjp2p-stream/segment/v1\n${id}\n41\n655360\n50123\n0.24\n1700000000240\n0`)
  assert.equal(verifySegment(id, signSegment(key, id, whole)).result, 'accept')
})

test('forged part offsets, lengths and positions are rejected', () => {
  const rec = signSegment(key, id, fields)
  const forgeries = [
    { ...rec, offset: rec.offset + 4096 },
    { ...rec, length: rec.length - 1 },
    { ...rec, duration: 0.2 },
    { ...rec, part: { ...rec.part!, index: 0 } },
    { ...rec, part: { ...rec.part!, msn: 11 } },
    { ...rec, part: { ...rec.part!, independent: true } },
  ]
  for (const f of forgeries) {
    const v = verifySegment(id, f)
    assert.deepEqual([v.result, v.result === 'reject' && v.reason], ['reject', 'bad segment signature'], JSON.stringify(f))
  }
  // Dropping the part fields does not turn a part into a whole segment: v1 bytes, v2 signature.
  const { part: _, ...stripped } = rec
  assert.equal(verifySegment(id, stripped).result, 'reject')
})

test('malformed part positions are rejected by the one validator', () => {
  const rec = signSegment(key, id, fields)
  const bad: Array<[unknown, string]> = [
    [{ ...rec, part: null }, 'bad part position'],
    [{ ...rec, part: [] }, 'bad part position'],
    [{ ...rec, part: { ...rec.part, msn: -1 } }, 'bad part media sequence'],
    [{ ...rec, part: { ...rec.part, msn: 1.5 } }, 'bad part media sequence'],
    [{ ...rec, part: { ...rec.part, index: MAX_PARTS_PER_SEGMENT } }, 'bad part index'],
    [{ ...rec, part: { ...rec.part, independent: 'yes' } }, 'bad part independent flag'],
    [{ ...rec, duration: 11 }, 'part longer than a part may be'],
  ]
  for (const [x, problem] of bad) {
    assert.equal(segmentRecordProblem(x), problem)
    assert.equal(isSegmentRecordShape(x), false)
    assert.equal(verifySegment(id, x).result, 'reject')
  }
  assert.throws(() => signSegment(key, id, { ...fields, part: { msn: 1, index: 99, independent: true } }), /refusing to sign segment: bad part index/)
})

test('part records cross the wire intact', () => {
  const rec = signSegment(key, id, fields)
  const decoded = decodeDatagram(encodeDatagram([{ type: 'HereAreSegments', id, segments: [rec] }]))
  assert.ok(decoded.ok)
  const got = decoded.messages[0]
  assert.ok(got.type === 'HereAreSegments')
  assert.deepEqual(got.segments, [rec])
  assert.equal(verifySegment(id, got.segments[0]).result, 'accept')
})

test('the source numbers parts: msn moves on at index 0 and after a discontinuity; a replica and the journal keep parts', async (t) => {
  const dir = await tempDir(t)
  const src = await StreamLog.createSource(dir, key, 'numbered', { format: 'fmp4', init: { offset: 0, length: 500 }, targetDuration: 1 })
  defer(t, () => src.close())
  await src.append(bytesOf(8 * CHUNK_SIZE, 3))
  const part = (i: number, index: number, independent: boolean, discontinuity = false) =>
    src.addSegment({ offset: i * CHUNK_SIZE, length: 1000, duration: 0.24, pdt: 1_700_000_000_000 + i * 240, discontinuity, part: { index, independent } })
  const recs = [
    await part(0, 0, true), await part(1, 1, false), await part(2, 2, false),
    await part(3, 0, true), await part(4, 1, false),
    await part(5, 1, false, true), // an encoder restart: a new segment, whatever the ingest said
    await part(6, 1, false),
  ]
  assert.deepEqual(recs.map((r) => [r.n, r.part?.msn, r.part?.index]), [[0, 0, 0], [1, 0, 1], [2, 0, 2], [3, 1, 0], [4, 1, 1], [5, 2, 0], [6, 2, 1]])
  for (const r of recs) assert.equal(verifySegment(src.id, r).result, 'accept')

  const rep = await StreamLog.openReplica(await tempDir(t), src.id)
  defer(t, () => rep.close())
  assert.equal(rep.putSegment(recs[4]).result, 'accept')
  assert.deepEqual(rep.segment(4), recs[4])
  assert.equal(rep.putSegment({ ...recs[5], offset: recs[5].offset + 16 }).result, 'reject')

  // Reopened from its journal, the source still has the parts (and their signatures verify on load).
  await src.close()
  const again = await StreamLog.createSource(dir, key, 'numbered', { format: 'fmp4', targetDuration: 1 })
  defer(t, () => again.close())
  assert.deepEqual(again.segment(6)?.part, { msn: 2, index: 1, independent: false })
})
