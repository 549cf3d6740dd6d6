import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readdir, readFile, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import fc from 'fast-check'
import { FileStore, MAX_BLOCK_READ, isValidFileId, isContentId } from '../../src/store/file-store.ts'
import { fsError, isStoreError } from '../../src/store/errors.ts'
import { BLOCK_SIZE } from '../../src/store/stream-types.ts'
import { bytesOf, defer, tempDir } from './helpers.ts'

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('file ids: separators, NUL, dot-dot, hidden, incoming and overlong are refused', () => {
  const hex = 'a'.repeat(64)
  assert.ok(isValidFileId(hex) && isContentId(hex))
  assert.ok(isValidFileId('movie.mp4'))
  assert.equal(isContentId('movie.mp4'), false)
  assert.equal(isContentId('A'.repeat(64)), false)
  for (const bad of ['', 'a/b', 'a\\b', '/etc/passwd', '..', 'x..y', '.hidden', 'incoming', 'a\0b', 'x'.repeat(257), 5, null]) {
    assert.equal(isValidFileId(bad), false, JSON.stringify(bad))
  }
  fc.assert(fc.property(fc.string(), (s) => {
    if (isValidFileId(s)) assert.ok(!s.includes('/') && !s.includes('\\') && !s.includes('..') && s.length > 0)
  }))
})

test('share hashes a copy into shared/<sha256>, keeps the original, serves clamped blocks', async (t) => {
  const dir = await tempDir(t)
  const store = await FileStore.open(dir)
  defer(t, () => store.close())
  const content = bytesOf(3 * BLOCK_SIZE + 10, 4)
  const src = join(dir, 'input.bin')
  await writeFile(src, content)
  const id = await store.share(src)
  assert.equal(id, sha(content))
  assert.deepEqual(await readFile(src), content)
  assert.deepEqual(await store.stat(id), { size: content.length })
  assert.deepEqual(await store.list(), [id])
  assert.equal(await store.share(src), id, 'sharing twice is fine')
  assert.deepEqual(await store.readBlock(id, BLOCK_SIZE, BLOCK_SIZE), content.subarray(BLOCK_SIZE, 2 * BLOCK_SIZE))
  assert.equal((await store.readBlock(id, 3 * BLOCK_SIZE, BLOCK_SIZE)).length, 10, 'clamped at eof')
  assert.equal((await store.readBlock(id, 0, 10 * MAX_BLOCK_READ)).length, Math.min(MAX_BLOCK_READ, content.length))
  assert.equal((await store.readBlock(id, content.length + 5, 100)).length, 0)
  await assert.rejects(store.readBlock('../etc/passwd', 0, 10), (e) => isStoreError(e, 'ERR_BAD_ID'))
  await assert.rejects(store.readBlock('a\\b', 0, 10), (e) => isStoreError(e, 'ERR_BAD_ID'))
  await assert.rejects(store.readBlock('f'.repeat(64), 0, 10), (e) => isStoreError(e, 'ERR_NOT_FOUND'))
  assert.equal(await store.stat('incoming'), null)
  assert.equal(await store.stat('x/y'), null)
  assert.deepEqual(await readdir(store.incomingDir), [], 'no temp files left')
})

test('plain names in shared/ are served like the reference node', async (t) => {
  const dir = await tempDir(t)
  const store = await FileStore.open(dir)
  defer(t, () => store.close())
  await writeFile(join(store.sharedDir, 'notes.txt'), 'hello')
  await writeFile(join(store.sharedDir, '.secret'), 'no')
  assert.deepEqual(await store.stat('notes.txt'), { size: 5 })
  assert.equal((await store.readBlock('notes.txt', 0, 4096)).toString(), 'hello')
  assert.deepEqual(await store.list(), ['notes.txt'])
  assert.equal(await store.stat('.secret'), null)
})

test('download: blocks in any order, resume after reopen from the sidecar, finish moves it', async (t) => {
  const dir = await tempDir(t)
  const content = bytesOf(5 * BLOCK_SIZE + 100, 8)
  const id = sha(content)
  const block = (i: number) => content.subarray(i * BLOCK_SIZE, Math.min(content.length, (i + 1) * BLOCK_SIZE))
  let store = await FileStore.open(dir)
  let dl = await store.beginDownload(id)
  assert.equal(dl.size, null)
  await assert.rejects(dl.writeBlock(0, block(0)), (e) => isStoreError(e, 'ERR_SIZE'))
  await dl.setSize(content.length)
  await assert.rejects(dl.setSize(content.length + 1), (e) => isStoreError(e, 'ERR_SIZE'))
  assert.equal(dl.blockCount, 6)
  assert.equal(await dl.writeBlock(5, block(5)), true)
  assert.equal(await dl.writeBlock(1, block(1)), true)
  assert.equal(await dl.writeBlock(1, block(1)), false)
  await assert.rejects(dl.writeBlock(2, block(5)), (e) => isStoreError(e, 'ERR_BAD_RECORD'))
  await assert.rejects(dl.writeBlock(6, block(5)), (e) => isStoreError(e, 'ERR_BAD_RECORD'))
  assert.equal(await store.stat(id), null, 'incoming files are never served')
  assert.deepEqual(await dl.finish(), { ok: false, reason: 'incomplete' })
  assert.equal(await store.beginDownload(id), dl, 'one download per id')
  await store.close()
  assert.ok(dl.closed)

  store = await FileStore.open(dir)
  defer(t, () => store.close())
  dl = await store.beginDownload(id)
  assert.equal(dl.size, content.length, 'size restored from the sidecar')
  assert.deepEqual(dl.missingBlocks(), [0, 2, 3, 4])
  for (const i of dl.missingBlocks()) assert.equal(await dl.writeBlock(i, block(i)), true)
  assert.ok(dl.complete)
  assert.deepEqual(await dl.finish(), { ok: true })
  assert.deepEqual(await store.stat(id), { size: content.length })
  assert.deepEqual(await readFile(join(store.sharedDir, id)), content)
  assert.deepEqual(await readdir(store.incomingDir), [])
  await assert.rejects(store.beginDownload(id), (e) => isStoreError(e, 'ERR_EXISTS'))
  await assert.rejects(store.beginDownload('notes.txt'), (e) => isStoreError(e, 'ERR_BAD_ID'))
})

test('download: runs written in order, shuffled and all at once hash right (in-order runs from memory, the rest read back), and a bad block still fails', async (t) => {
  const dir = await tempDir(t)
  const store = await FileStore.open(dir)
  defer(t, () => store.close())
  // 600 blocks and a short tail: more than one 1 MiB read-back piece.
  const content = bytesOf(600 * BLOCK_SIZE + 77, 9)
  const id = sha(content)
  const count = Math.ceil(content.length / BLOCK_SIZE)
  const runs: number[][] = []
  for (let i = 0, n = 1; i < count; i += n, n = (n % 13) + 1) runs.push(Array.from({ length: Math.min(n, count - i) }, (_, k) => i + k))
  const blocks = (run: number[], liar?: number) => run.map((i) => i === liar ? Buffer.alloc(Math.min(BLOCK_SIZE, content.length - i * BLOCK_SIZE), 1) : content.subarray(i * BLOCK_SIZE, Math.min(content.length, (i + 1) * BLOCK_SIZE)))
  const shuffled = fc.sample(fc.shuffledSubarray(runs, { minLength: runs.length }), { numRuns: 1, seed: 7 })[0]
  const orders: [string, (dl: Awaited<ReturnType<typeof store.beginDownload>>, liar?: number) => Promise<unknown>][] = [
    ['in order', async (dl, liar) => { for (const r of runs) await dl.writeBlocks(r[0], blocks(r, liar)) }],
    ['shuffled', async (dl, liar) => { for (const r of shuffled) await dl.writeBlocks(r[0], blocks(r, liar)) }],
    ['all at once', (dl, liar) => Promise.all(runs.map((r) => dl.writeBlocks(r[0], blocks(r, liar))))],
  ]
  for (const [name, write] of orders) {
    const dl = await store.beginDownload(id, content.length)
    await write(dl)
    assert.deepEqual(await dl.finish(), { ok: true }, name)
    assert.deepEqual(await readFile(join(store.sharedDir, id)), content, name)
    await unlink(join(store.sharedDir, id))
    const bad = await store.beginDownload(id, content.length)
    await write(bad, 300)
    assert.equal((await bad.finish()).ok, false, `${name}: one wrong block is caught`)
  }
})

test('download: a bad hash is deleted, never moved into shared/', async (t) => {
  const dir = await tempDir(t)
  const store = await FileStore.open(dir)
  defer(t, () => store.close())
  const content = bytesOf(2 * BLOCK_SIZE, 5)
  const id = sha(content)
  const dl = await store.beginDownload(id, content.length)
  await dl.writeBlock(0, content.subarray(0, BLOCK_SIZE))
  await dl.writeBlock(1, Buffer.alloc(BLOCK_SIZE)) // a liar's block
  const result = await dl.finish()
  assert.equal(result.ok, false)
  assert.equal(await store.stat(id), null)
  assert.deepEqual(await readdir(store.incomingDir), [])
  const again = await store.beginDownload(id, content.length)
  assert.deepEqual(again.missingBlocks(), [0, 1], 'starts over')
})

test('download: sidecar for a different size or a damaged one restarts cleanly', async (t) => {
  const dir = await tempDir(t)
  const content = bytesOf(3 * BLOCK_SIZE, 6)
  const id = sha(content)
  let store = await FileStore.open(dir)
  let dl = await store.beginDownload(id, content.length)
  await dl.writeBlock(0, content.subarray(0, BLOCK_SIZE))
  await store.close()
  const sidecar = join(dir, 'shared', 'incoming', `${id}.blocks`)
  assert.ok((await stat(sidecar)).size > 16)
  const bytes = await readFile(sidecar)
  bytes[0] ^= 0xff
  await writeFile(sidecar, bytes)
  store = await FileStore.open(dir)
  defer(t, () => store.close())
  dl = await store.beginDownload(id, content.length)
  assert.deepEqual(dl.missingBlocks(), [0, 1, 2])
})

test('zero-length files download and verify', async (t) => {
  const store = await FileStore.open(await tempDir(t))
  defer(t, () => store.close())
  const id = sha(Buffer.alloc(0))
  const dl = await store.beginDownload(id, 0)
  assert.ok(dl.complete)
  assert.deepEqual(await dl.finish(), { ok: true })
  assert.deepEqual(await store.stat(id), { size: 0 })
})

test('ENOSPC maps to ERR_DISK_FULL', () => {
  const err = Object.assign(new Error('no space'), { code: 'ENOSPC' })
  assert.equal(fsError(err, 'writing').code, 'ERR_DISK_FULL')
  assert.equal(fsError(Object.assign(new Error('x'), { code: 'EIO' }), 'writing').code, 'ERR_IO')
})
