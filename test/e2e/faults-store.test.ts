// A store damaged while the node was down (bytes flipped in the data file, the records journal cut
// mid-line): after reopen nothing unverified is served, the damage is named in the log, and every
// undamaged verified byte is still there.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { open, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { tempDir } from '../helpers/stream-fixture.ts'

test('flipped data bytes and a cut journal: reopen serves only what still verifies', async (t) => {
  const dir = await tempDir(t)
  const key = generateStreamKey()
  const opts = { format: 'ts' as const, targetDuration: 1 }
  const body = randomBytes(CHUNK_SIZE * 12)
  const log = await StreamLog.createSource(dir, key, 'crash', opts)
  await log.append(body)
  await log.addSegment({ offset: 0, length: body.length, duration: 1, pdt: Date.now(), discontinuity: false })
  await log.close()
  // The damage a crash (or a bad disk) can leave behind.
  const fh = await open(join(log.path, 'data'), 'r+')
  await fh.write(Buffer.alloc(32, 0xee), 0, 32, 5 * CHUNK_SIZE + 1000)
  await fh.close()
  const journal = join(log.path, 'records.jsonl')
  await truncate(journal, (await stat(journal)).size - 29)

  const warnings: string[] = []
  const logger = { debug() {}, info() {}, warn: (m: string) => { warnings.push(m) }, error: (m: string) => { warnings.push(m) } }
  const again = await StreamLog.createSource(dir, key, 'crash', { ...opts, logger })
  t.after(() => again.close())
  assert.equal(again.id, log.id, 'same stream id after restart')
  await assert.rejects(again.read(5 * CHUNK_SIZE, CHUNK_SIZE), (e: { code?: string }) => e.code === 'ERR_NOT_VERIFIED')
  assert.equal(again.hasChunk(5), false, 'the damaged chunk is no longer claimed')
  assert.ok(warnings.some((w) => /no longer matches/.test(w)), `the damage is named: ${warnings.join(' | ')}`)
  let kept = 0
  for (let n = 0; n < 12; n++) {
    if (n === 5 || !again.hasChunk(n)) continue
    const got = await again.read(n * CHUNK_SIZE, CHUNK_SIZE)
    assert.ok(got.equals(body.subarray(n * CHUNK_SIZE, (n + 1) * CHUNK_SIZE)), `chunk ${n} intact`)
    kept++
  }
  assert.ok(kept >= 10, `undamaged verified chunks kept (${kept})`)
})
