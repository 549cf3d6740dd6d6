// The hole puncher frees the start of a file that was already consumed, in whole blocks, leaving
// its length and the rest of its bytes alone; without the tool it says so once and leaves the file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HolePuncher } from '../../src/ingest/hole-puncher.ts'

const MiB = 1024 * 1024

function canPunch (): string | false {
  try {
    execFileSync('fallocate', ['--version'], { stdio: 'ignore' })
    return false
  } catch {
    return 'SKIPPED LOUDLY: fallocate (util-linux) is missing'
  }
}

/** A file of `size` non-zero bytes (byte i is i % 251 + 1). */
async function filled (t: { after (fn: () => Promise<void>): void }, size: number): Promise<{ file: string; bytes: Buffer }> {
  const dir = await mkdtemp(join(tmpdir(), 'hole-puncher-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i++) bytes[i] = (i % 251) + 1
  const file = join(dir, 'stream.ts')
  await writeFile(file, bytes)
  return { file, bytes }
}

function recorder (): { logger: { debug (m: string): void; info (m: string): void; warn (m: string): void; error (m: string): void }; lines: string[] } {
  const lines: string[] = []
  const keep = (m: string): void => { lines.push(m) }
  return { logger: { debug: keep, info: keep, warn: keep, error: keep }, lines }
}

test('frees consumed whole blocks once enough piled up; length and unconsumed bytes stay', { skip: canPunch() }, async (t) => {
  const { file, bytes } = await filled(t, 3 * MiB)
  const { logger, lines } = recorder()
  const p = new HolePuncher({ logger }, { path: file, everyBytes: MiB })
  p.consumed(MiB / 2)
  await p.close()
  assert.equal(p.freedBytes, 0, 'under everyBytes: not worth a process')

  const q = new HolePuncher({ logger }, { path: file, everyBytes: MiB })
  const upTo = 2 * MiB + 1000
  q.consumed(upTo)
  await q.close()
  const cut = 2 * MiB // upTo rounded down to a 4096-byte block
  assert.equal(q.freedBytes, cut)
  const st = await stat(file)
  assert.equal(st.size, 3 * MiB, 'the length ffmpeg and the tail see is unchanged')
  assert.ok(st.blocks * 512 <= 3 * MiB - cut + 64 * 1024, `allocated ${st.blocks * 512} bytes`)
  const now = await readFile(file)
  assert.ok(now.subarray(0, cut).every((b) => b === 0), 'the consumed part is a hole')
  assert.ok(now.subarray(cut).equals(bytes.subarray(cut)), 'the rest is untouched, partial block included')
  assert.deepEqual(lines, [])
})

test('without fallocate: one line, no further attempts, the file untouched', async (t) => {
  const { file, bytes } = await filled(t, 2 * MiB)
  const { logger, lines } = recorder()
  const p = new HolePuncher({ logger }, { path: file, everyBytes: 64 * 1024, command: join(tmpdir(), 'no-such-fallocate') })
  p.consumed(MiB)
  await new Promise((resolve) => setTimeout(resolve, 500))
  p.consumed(2 * MiB)
  await p.close()
  assert.equal(p.freedBytes, 0)
  assert.equal(lines.length, 1, lines.join('\n'))
  assert.match(lines[0], /cannot free the ingested part of .*not installed.*keeps growing/)
  assert.ok((await readFile(file)).equals(bytes))
})
