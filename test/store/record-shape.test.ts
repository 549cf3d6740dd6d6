import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isChunkRecordShape, isSegmentRecordShape, isStreamHeadShape, isStreamInfoShape, verifyChunkRecord, verifyHead, verifyInfo, verifySegment } from '../../src/store/verify.ts'
import { fromBase64, fromHex } from '../../src/store/hashes.ts'

const guards = [isChunkRecordShape, isSegmentRecordShape, isStreamHeadShape, isStreamInfoShape]
const id = `stream/${'ab'.repeat(32)}/x`

test('shape guards and verifiers never throw on arbitrary input', () => {
  fc.assert(fc.property(fc.anything({ withBoxedValues: true, withNullPrototype: true, withMap: true, withSet: true, withTypedArray: true }), (x) => {
    for (const g of guards) assert.equal(typeof g(x), 'boolean')
    for (const v of [verifyChunkRecord(id, x), verifySegment(id, x), verifyHead(id, x, null), verifyInfo(id, x)]) {
      assert.equal(v.result, 'reject')
    }
  }), { numRuns: 2000 })
})

test('shape guards never throw on records with arbitrary field values', () => {
  const field = fc.oneof(fc.anything(), fc.double(), fc.string(), fc.boolean(), fc.constant(null))
  const rec = fc.record({ id: field, n: field, length: field, blocks: field, sha256: field, time: field, sig: field, offset: field, duration: field, pdt: field, discontinuity: field, chunks: field, segments: field, ended: field, format: field, init: field, targetDuration: field, created: field }, { requiredKeys: [] })
  fc.assert(fc.property(rec, (x) => {
    for (const g of guards) assert.equal(typeof g(x), 'boolean')
    assert.notEqual(verifyChunkRecord(id, x).result, 'accept')
  }), { numRuns: 2000 })
})

test('guards survive a throwing getter', () => {
  const evil = Object.defineProperty({}, 'n', { get() { throw new Error('boom') }, enumerable: true })
  for (const g of guards) assert.equal(g(evil), false)
})

test('strict decoders: base64 and hex', () => {
  assert.equal(fromBase64('AAAA')?.length, 3)
  assert.equal(fromBase64('AAA'), null)
  assert.equal(fromBase64('AAA=')?.length, 2)
  assert.equal(fromBase64('AA==')?.length, 1)
  assert.equal(fromBase64('A==='), null)
  assert.equal(fromBase64('AAA-'), null, 'base64url is not the wire format')
  assert.equal(fromBase64('AB=='), null, 'non-zero trailing bits do not round-trip')
  assert.equal(fromBase64('YQ==')?.toString(), 'a')
  assert.equal(fromBase64('YQ', 1), null)
  assert.equal(fromHex('0A'), null)
  assert.equal(fromHex('0a', 2), null)
  assert.deepEqual(fromHex('0a0b'), Buffer.from([10, 11]))
  fc.assert(fc.property(fc.anything(), (x) => {
    fromBase64(x)
    fromHex(x)
  }))
})
