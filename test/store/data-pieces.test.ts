// The piece layout on disk outlives the options it was made with: a reader that passes no keep, or
// a restart with another --keep, must find every byte where it was written.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DataPieces } from '../../src/store/data-pieces.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

test('pieces are reopened with the size they were cut with, whatever the opener asks for', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cjp2p-pieces-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const bytes = Buffer.alloc(5 * CHUNK_SIZE)
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff
  const first = await DataPieces.open(dir, 2)
  await first.write(bytes, 0, 'writing')
  await first.close()
  assert.ok((await readdir(dir)).includes('data.2'), 'five chunks in pieces of two')

  for (const asked of [null, 3, 1]) {
    const again = await DataPieces.open(dir, asked)
    try {
      assert.equal(again.single, false, `opened with ${asked}: still pieces`)
      assert.equal(again.size, bytes.length)
      assert.ok((await again.read(bytes.length, 0, 'reading')).equals(bytes), `opened with ${asked}: every byte where it was written`)
    } finally {
      await again.close()
    }
  }
  assert.ok(!(await readdir(dir)).includes('data'), 'no stray single data file was created')
})

test('a single data file stays single when a window is asked for later', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'cjp2p-pieces-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const one = await DataPieces.open(dir, null)
  await one.write(Buffer.from('hello'), CHUNK_SIZE, 'writing')
  await one.close()
  const again = await DataPieces.open(dir, 4)
  try {
    assert.equal(again.single, true)
    assert.equal((await again.read(5, CHUNK_SIZE, 'reading')).toString(), 'hello')
  } finally {
    await again.close()
  }
})
