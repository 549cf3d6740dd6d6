import { test } from 'node:test'
import assert from 'node:assert/strict'
import { blake3 as reference } from '@noble/hashes/blake3.js'
import { blake3 as fast, sha256 } from '../../src/store/hashes.ts'
import { createHash } from 'node:crypto'

test('the fast BLAKE3 matches @noble/hashes, the reference, on many sizes', () => {
  for (const size of [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096, 16384, 100_000]) {
    const bytes = Buffer.alloc(size, size % 251)
    for (let i = 0; i < size; i += 97) bytes[i] = i & 0xff
    assert.equal(fast(bytes).toString('hex'), Buffer.from(reference(bytes)).toString('hex'), `size ${size}`)
    assert.equal(sha256(bytes).toString('hex'), createHash('sha256').update(bytes).digest('hex'))
  }
})
