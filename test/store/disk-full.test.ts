// A full disk is a local fault: StoreError ERR_DISK_FULL, and nothing is marked that is not stored.
// Needs a tiny tmpfs, so it runs only where this process may mount one (root in a sandbox or CI).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileStore } from '../../src/store/file-store.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { isStoreError } from '../../src/store/errors.ts'
import { BLOCK_SIZE, CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { bytesOf, defer, tempDir } from './helpers.ts'

/** A 256 KiB tmpfs; the caller closes everything on it, then calls cleanup(). */
async function smallDisk(): Promise<{ dir: string; cleanup: () => Promise<void> } | null> {
  const base = await mkdtemp(join(tmpdir(), 'cjp2p-full-'))
  const dir = join(base, 'mnt')
  await mkdir(dir)
  const cleanup = async (): Promise<void> => {
    spawnSync('umount', [dir], { stdio: 'ignore' })
    await rm(base, { recursive: true, force: true })
  }
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', dir], { stdio: 'ignore' })
  if (r.status !== 0) {
    await cleanup()
    return null
  }
  return { dir, cleanup }
}

test('ENOSPC during a download and a stream put gives ERR_DISK_FULL and marks nothing', async (t) => {
  const disk = await smallDisk()
  if (!disk) return t.skip('cannot mount a tmpfs here')
  const dir = disk.dir
  const closers: (() => Promise<void>)[] = []
  try {
    await fillUp(t, dir, closers)
  } finally {
    for (const close of closers) await close()
    await disk.cleanup()
  }
})

async function fillUp(t: Parameters<typeof tempDir>[0], dir: string, closers: (() => Promise<void>)[]): Promise<void> {
  const store = await FileStore.open(dir)
  closers.push(() => store.close())
  const content = bytesOf(128 * BLOCK_SIZE, 3) // 512 KiB into a 256 KiB disk
  const id = createHash('sha256').update(content).digest('hex')
  const dl = await store.beginDownload(id, content.length)
  let failedAt = -1
  for (let i = 0; i < dl.blockCount; i++) {
    try {
      await dl.writeBlock(i, content.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE))
    } catch (err) {
      assert.ok(isStoreError(err, 'ERR_DISK_FULL'), String(err))
      failedAt = i
      break
    }
  }
  assert.ok(failedAt > 0, 'the disk filled up')
  assert.equal(dl.hasBlock(failedAt), false)
  assert.deepEqual(await readdir(store.sharedDir), ['incoming'])
  await dl.discard()

  const key = generateStreamKey()
  const src = await StreamLog.createSource(await tempDir(t), key, 's', { format: 'ts', targetDuration: 1 })
  defer(t, () => src.close())
  const data = bytesOf(24 * CHUNK_SIZE, 4)
  const recs = await src.append(data)
  const rep = await StreamLog.openReplica(dir, src.id)
  closers.push(() => rep.close())
  let full = false
  for (const r of recs) {
    rep.putChunkRecord(r)
    try {
      await rep.putChunk(r.n, data.subarray(r.n * CHUNK_SIZE, (r.n + 1) * CHUNK_SIZE))
    } catch (err) {
      assert.ok(isStoreError(err, 'ERR_DISK_FULL'), String(err))
      assert.equal(rep.hasChunk(r.n), false)
      full = true
      break
    }
  }
  assert.ok(full, 'the disk filled up')
}
