// kill -9 at arbitrary points must never leave a chunk marked verified whose bytes are not on disk,
// and a source must continue its log after the crash.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { StreamLog } from '../../src/store/stream-log.ts'
import { loadOrCreateKey } from '../../src/store/keys.ts'
import { verifyChunkBytes } from '../../src/store/verify.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { patternBytes } from './fixtures/pattern.ts'
import { tempDir } from './helpers.ts'

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url))

async function runAndKill(args: string[], killAfterMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    await new Promise<void>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error('writer never started')), 60_000)
      child.stdout.on('data', () => { clearTimeout(deadline); resolve() })
      child.on('exit', (code) => { clearTimeout(deadline); reject(new Error(`writer exited ${code}`)) })
    })
    await new Promise((r) => setTimeout(r, killAfterMs))
  } finally {
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGKILL')
    await exited
  }
}

async function checkLog(log: StreamLog): Promise<number> {
  let verified = 0
  const top = log.head()?.chunks ?? 0
  for (let n = 0; n < top + 64; n++) {
    if (!log.hasChunk(n)) continue
    const rec = log.chunkRecord(n)
    assert.ok(rec, `verified chunk ${n} has a record`)
    const bytes = await log.read(n * CHUNK_SIZE, rec.length)
    assert.equal(verifyChunkBytes(rec, bytes).result, 'accept', `chunk ${n} bytes match`)
    assert.deepEqual(bytes, patternBytes(n * CHUNK_SIZE, rec.length), `chunk ${n} is the source's bytes`)
    verified++
  }
  return verified
}

test('kill -9 during appends: reopened source and replica trust only bytes on disk', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-crash-')
  const args = [join(dir, 'src'), join(dir, 'rep'), join(dir, 'key.pem')]
  let lastChunks = 0
  for (const killAfter of [150, 400, 50]) {
    await runAndKill(args, killAfter)
    const key = await loadOrCreateKey(args[2])
    const src = await StreamLog.createSource(args[0], key, 'crash', { format: 'ts', targetDuration: 1 })
    const rep = await StreamLog.openReplica(args[1], src.id)
    try {
      const head = src.head()
      assert.ok(head && head.chunks >= lastChunks, 'the source never goes backwards')
      assert.equal(await checkLog(src), head.chunks, 'every source chunk is verified after restart')
      await checkLog(rep)
      lastChunks = head.chunks
    } finally {
      await src.close()
      await rep.close()
    }
  }
  assert.ok(lastChunks > 0)
})
