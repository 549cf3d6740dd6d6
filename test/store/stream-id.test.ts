import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isStreamId, makeStreamId, parseStreamId } from '../../src/store/stream-id.ts'
import { isStoreError } from '../../src/store/errors.ts'

const pub = 'ab'.repeat(32)

test('makeStreamId and parseStreamId round-trip', () => {
  const id = makeStreamId(pub, 'cam-1.main_2')
  assert.equal(id, `stream/${pub}/cam-1.main_2`)
  assert.deepEqual(parseStreamId(id), { publicKeyHex: pub, name: 'cam-1.main_2' })
  assert.ok(isStreamId(id))
})

test('parseStreamId is strict', () => {
  for (const bad of [
    `stream/${pub.toUpperCase()}/x`, `stream/${pub.slice(1)}/x`, `stream/${pub}/`, `stream/${pub}/.`,
    `stream/${pub}/..`, `stream/${pub}/a/b`, `stream/${pub}/a b`, `stream/${pub}/${'x'.repeat(65)}`,
    `Stream/${pub}/x`, `stream/${pub}/x\n`, `/stream/${pub}/x`, `stream//${pub}/x`, '', 42, null, undefined, {},
  ]) assert.equal(parseStreamId(bad), null, String(bad))
  assert.ok(parseStreamId(`stream/${pub}/${'x'.repeat(64)}`))
  assert.ok(parseStreamId(`stream/${pub}/...`))
})

test('makeStreamId throws ERR_BAD_ID for bad input', () => {
  assert.throws(() => makeStreamId(pub, '..'), (e) => isStoreError(e, 'ERR_BAD_ID'))
  assert.throws(() => makeStreamId(pub, 'a/b'), (e) => isStoreError(e, 'ERR_BAD_ID'))
  assert.throws(() => makeStreamId('xyz', 'a'), (e) => isStoreError(e, 'ERR_BAD_ID'))
})

test('parseStreamId never throws and accepts only what makeStreamId would make', () => {
  fc.assert(fc.property(fc.anything(), (x) => {
    const p = parseStreamId(x)
    if (p) assert.equal(makeStreamId(p.publicKeyHex, p.name), x)
  }))
  fc.assert(fc.property(fc.string(), (s) => {
    const p = parseStreamId(`stream/${pub}/${s}`)
    if (p) assert.equal(p.name, s)
  }))
})
