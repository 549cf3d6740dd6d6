// The verified marks file stays bounded when retention deletes chunks: once more than half its
// marks are of chunks no longer held it is rewritten to the durable ones, and a reopen trusts
// exactly those. A log that keeps everything never rewrites.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { VerifiedChunks } from '../../src/store/verified-chunks.ts'
import { ChunkBitmap } from '../../src/store/chunk-bitmap.ts'
import { tempDir } from './helpers.ts'
import fc from 'fast-check'

const open = (file: string, minRewrite: number) => VerifiedChunks.open(file, { batch: 8, intervalMs: 10, logger: { warn: () => {} }, beforeCommit: async () => {}, minRewrite })

test('ChunkBitmap.values lists set chunks ascending, across pages', () => {
  const b = new ChunkBitmap()
  for (const n of [70_000, 3, 0, 65_535, 65_536, 200_001]) b.set(n)
  b.delete(3)
  assert.deepEqual([...b.values()], [0, 65_535, 65_536, 70_000, 200_001])
})

test('ChunkBitmap.clearIn lists exactly the unset chunks of a range, ascending, up to its limit, across pages', () => {
  fc.assert(fc.property(
    fc.uniqueArray(fc.integer({ min: 0, max: 140_000 }), { maxLength: 400 }),
    fc.integer({ min: 0, max: 140_000 }), fc.integer({ min: 0, max: 3000 }), fc.integer({ min: 0, max: 5000 }),
    (set, from, span, max) => {
      const b = new ChunkBitmap()
      // Runs of set chunks too, so whole bytes of eight are passed over.
      for (const n of set) for (let k = 0; k < (n % 3 === 0 ? 40 : 1); k++) b.set(n + k)
      const want: number[] = []
      for (let n = from; n < from + span && want.length < max; n++) if (!b.has(n)) want.push(n)
      assert.deepEqual(b.clearIn(from, from + span, max), want)
    }), { numRuns: 300 })
  const b = new ChunkBitmap()
  for (let n = 65_530; n < 65_560; n++) b.set(n)
  assert.deepEqual(b.clearIn(65_528, 65_562, 10), [65_528, 65_529, 65_560, 65_561])
  assert.deepEqual(b.clearIn(-5, 2, 10), [0, 1])
})

test('a sliding window of marks: the file is rewritten to what is held, a reopen trusts exactly that', async (t) => {
  const file = join(await tempDir(t), 'verified')
  const v = await open(file, 64)
  // 2000 chunks go through a 100-chunk window, as a viewer with --keep sees them.
  for (let n = 0; n < 2000; n++) {
    v.add(n)
    if (n >= 100) v.forget(n - 100)
    if (n % 8 === 7) await v.commit()
  }
  await v.close()
  const bytes = (await stat(file)).size
  assert.ok(bytes <= 4 * 2 * Math.max(64, 100) + 4 * 8, `${bytes} bytes of marks for 100 held chunks (2000 seen)`)

  // Marks of chunks deleted since the last rewrite may still be there: the loader's trust (record
  // loaded, bytes held) drops them, as StreamLog's does below the floor.
  const held: number[] = []
  const again = await open(file, 64)
  await again.load((n) => { held.push(n); return n >= 1900 })
  assert.ok(held.length < 300, `${held.length} marks on disk`)
  assert.equal(again.size, 100)
  for (let n = 1900; n < 2000; n++) assert.ok(again.has(n), `chunk ${n}`)
  assert.equal(again.has(1899), false)
  await again.close()
})

test('keeping everything: no rewrite, every mark stays', async (t) => {
  const file = join(await tempDir(t), 'verified')
  const v = await open(file, 64)
  for (let n = 0; n < 500; n++) v.add(n)
  await v.close()
  assert.equal((await stat(file)).size, 500 * 4)
  const again = await open(file, 64)
  await again.load(() => true)
  assert.equal(again.size, 500)
  await again.close()
})
