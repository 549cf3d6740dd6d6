// The simulator's shared verifier: a copy of a record judged once is known by its fields, and a
// copy that differs anywhere is judged again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { SharedVerifier, sameJson } from '../../src/sim/shared-verifier.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { makeStreamId } from '../../src/store/stream-id.ts'
import { signChunk } from '../../src/store/verify.ts'
import { pickChunkRecord } from '../../src/store/record-shape.ts'

test('sameJson: true only for values JSON writes as the same text, and true for a copy of a JSON value', () => {
  const odd = fc.oneof(fc.constant(undefined), fc.constant(NaN), fc.constant(-0), fc.constant(Infinity), fc.constant(new Date(0)),
    fc.constant(Buffer.from('hi')), fc.constant(() => 1), fc.constant({ toJSON: () => 'x' }))
  const value = fc.letrec((tie) => ({
    v: fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 2 }), odd, fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.constantFrom('a', 'b', 'c', 'sig'), tie('v'), { maxKeys: 3 })),
  })).v
  fc.assert(fc.property(value, value, (a, b) => {
    if (sameJson(a, b)) assert.equal(JSON.stringify(a), JSON.stringify(b))
  }), { numRuns: 3000 })
  fc.assert(fc.property(fc.jsonValue(), (a) => {
    const text = JSON.stringify(a)
    // JSON.parse makes an own "__proto__", which sameJson leaves to the text key.
    if (!text.includes('"__proto__"')) assert.ok(sameJson(a, JSON.parse(text)), text)
  }), { numRuns: 1000 })
  assert.ok(!sameJson({ a: 1, b: 2 }, { b: 2, a: 1 }), 'the same keys in another order are another text')
  assert.ok(!sameJson([1, 2], [1, 2, 3]))
})

test('a node\'s copy of a record is known without its text key; a copy changed anywhere is judged again', () => {
  const key = generateStreamKey()
  const id = makeStreamId(key.publicKeyHex, 'live')
  const rec = signChunk(key, id, 3, Buffer.alloc(9000, 7), 1_796_000_000_000)
  const v = new SharedVerifier()
  assert.equal(v.chunkRecord(id, rec).result, 'accept')
  const copy = pickChunkRecord(rec)
  const stringify = JSON.stringify
  let texts = 0
  JSON.stringify = ((...args: Parameters<typeof stringify>) => { texts++; return stringify(...args) }) as typeof stringify
  try {
    assert.equal(v.chunkRecord(id, copy).result, 'accept')
    assert.equal(texts, 0, 'a copy with the same fields needs no text key')
    const forged = { ...pickChunkRecord(rec), n: 4 }
    assert.equal(v.chunkRecord(id, forged).result, 'reject')
    const reordered = { sig: rec.sig, n: rec.n, length: rec.length, blocks: rec.blocks, sha256: rec.sha256, time: rec.time }
    assert.equal(v.chunkRecord(id, reordered).result, new SharedVerifier().chunkRecord(id, reordered).result)
    assert.equal(v.chunkRecord(`${id}x`, copy).result, new SharedVerifier().chunkRecord(`${id}x`, pickChunkRecord(rec)).result, 'another id is judged again')
  } finally {
    JSON.stringify = stringify
  }
  assert.ok(texts > 0, 'a changed copy was keyed by its text')
})
