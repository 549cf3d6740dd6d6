// A viewer's verified times in typed columns (src/metrics/verified-times.ts) read exactly as the
// array of [chunk, verified at] pairs they replaced: iterated, as a Map, as JSON, and so in the
// bench's figures.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { VerifiedTimes } from '../../src/metrics/verified-times.ts'
import { MAX_CHUNK_INDEX } from '../../src/store/record-shape.ts'

const entry = fc.tuple(
  fc.oneof(fc.nat(2000), fc.constant(MAX_CHUNK_INDEX)),
  // Epoch ms, whole or not (virtual time has fractions: jitter, link queues).
  fc.oneof(fc.integer({ min: 1_700_000_000_000, max: 1_900_000_000_000 }), fc.double({ min: 0, max: 2e12, noNaN: true })),
)

test('pushed pairs read back as the array of pairs did: in order, as a Map, as JSON', () => {
  fc.assert(fc.property(fc.array(entry, { maxLength: 300 }), (pairs) => {
    const times = new VerifiedTimes()
    const array: Array<[number, number]> = []
    for (const [n, t] of pairs) { times.push(n, t); array.push([n, t]) }
    assert.equal(times.length, array.length)
    assert.deepEqual([...times], array)
    assert.deepEqual(new Map(times), new Map(array))
    assert.equal(JSON.stringify({ verified: times }), JSON.stringify({ verified: array }))
    assert.deepEqual([...times], [...times], 'read twice, the same')
  }), { numRuns: 300 })
})

test('an empty list reads as an empty array', () => {
  const times = new VerifiedTimes()
  assert.deepEqual([...times], [])
  assert.equal(JSON.stringify(times), '[]')
})
