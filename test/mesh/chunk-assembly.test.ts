import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { ChunkAssembly } from '../../src/mesh/chunk-assembly.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { makeStreamId } from '../../src/store/stream-id.ts'
import { signChunk } from '../../src/store/verify.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../../src/store/stream-types.ts'

const key = generateStreamKey()
const id = makeStreamId(key.publicKeyHex, 'a')
const bytes = randomBytes(CHUNK_SIZE)
const rec = signChunk(key, id, 5, bytes, 1)
const block = (i: number) => bytes.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE)
const junk = () => randomBytes(BLOCK_SIZE)

test('a chunk mixed from an honest parent and a poisoner: each bad block is charged to its sender, the honest one never', () => {
  const a = new ChunkAssembly()
  // The poisoner races ahead of the record with junk for blocks 1-3 (claiming to be the source).
  for (const i of [1, 2, 3]) assert.deepEqual(a.add(5, i * BLOCK_SIZE, junk(), 'poisoner', 1, undefined, 0), { kind: 'incomplete', bad: [] })
  // The parent's push: the record, then its blocks.
  const onRecord = a.tryComplete(rec)
  assert.deepEqual(onRecord, { kind: 'incomplete', bad: ['poisoner', 'poisoner', 'poisoner'] })
  for (const i of [0, 1, 2]) assert.deepEqual(a.add(5, i * BLOCK_SIZE, block(i), 'parent', 2, rec, 0), { kind: 'incomplete', bad: [] })
  // Junk after the record is checked on arrival.
  assert.deepEqual(a.add(5, 3 * BLOCK_SIZE, junk(), 'poisoner', 1, rec, 0), { kind: 'incomplete', bad: ['poisoner'] })
  const done = a.add(5, 3 * BLOCK_SIZE, block(3), 'parent', 2, rec, 0)
  assert.equal(done.kind, 'complete')
  if (done.kind !== 'complete') return
  assert.deepEqual(done.bytes, bytes)
  assert.deepEqual(done.senders, ['parent'])
  assert.deepEqual(done.bad, [])
  assert.equal(done.hops, 2, 'the poisoner\'s hops claim died with its blocks')
  assert.deepEqual(done.zeroHop, [])
  assert.equal(a.size, 0)
})

test('verified blocks of several honest senders make a chunk; a verified block is never replaced', () => {
  const a = new ChunkAssembly()
  a.add(5, 0, Buffer.concat([block(0), block(1)]), 'x', 1, rec, 0)
  // A block we already verified is not hashed again: whatever comes for it is a harmless duplicate.
  assert.deepEqual(a.add(5, BLOCK_SIZE, junk(), 'y', 1, rec, 0), { kind: 'incomplete', bad: [] })
  const done = a.add(5, 2 * BLOCK_SIZE, Buffer.concat([block(2), block(3)]), 'z', 3, rec, 0)
  assert.equal(done.kind, 'complete')
  if (done.kind === 'complete') {
    assert.deepEqual(done.bytes, bytes)
    assert.deepEqual(done.senders.sort(), ['x', 'z'])
    assert.deepEqual(done.zeroHop, ['x'])
  }
})

test('junk alone leaves nothing buffered, and misaligned blocks are invalid', () => {
  const a = new ChunkAssembly()
  assert.deepEqual(a.add(5, 0, junk(), 'p', 1, rec, 0), { kind: 'incomplete', bad: ['p'] })
  assert.equal(a.size, 0)
  assert.equal(a.add(5, 100, block(0), 'p', 1, rec, 0).kind, 'invalid')
  assert.equal(a.add(5, CHUNK_SIZE, block(0), 'p', 1, rec, 0).kind, 'invalid')
})
