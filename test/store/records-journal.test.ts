// The journal writes lines that may wait ('soon': a replica's records) together, in one write with
// the next batch, and a line appended now goes out at once after them, in order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { RecordsJournal, type JournalEntry } from '../../src/store/records-journal.ts'
import { StreamLog } from '../../src/store/stream-log.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'
import { bytesOf, defer, tempDir } from './helpers.ts'

/** Counts FileHandle.appendFile calls (each one a write through the thread pool) while the test runs. */
async function countAppends(t: Parameters<typeof tempDir>[0], dir: string): Promise<{ calls: number }> {
  const probe = await open(join(dir, 'probe'), 'w')
  const proto = Object.getPrototypeOf(probe) as { appendFile: (...a: unknown[]) => Promise<void> }
  await probe.close()
  const original = proto.appendFile
  const count = { calls: 0 }
  proto.appendFile = function (this: unknown, ...a: unknown[]) { count.calls++; return original.apply(this, a) }
  defer(t, () => { proto.appendFile = original })
  return count
}

const lines = async (file: string): Promise<unknown[]> => (await readFile(file, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as unknown)

test('lines that may wait go out in one write, before a line appended now, in order', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'records.jsonl')
  const journal = await RecordsJournal.open(file)
  defer(t, () => journal.close())
  const count = await countAppends(t, dir)
  const head = (time: number): JournalEntry => ({ t: 'head', r: { id: 'stream/x/y', chunks: 0, length: 0, segments: 0, time, ended: false, sig: 's' } })
  const early = [journal.append(head(1), 'soon'), journal.append(head(2), 'soon'), journal.append(head(3), 'soon')]
  await journal.append(head(4))
  await Promise.all(early)
  // One write; two if the batch's timer fired between the appends on a very slow machine.
  assert.ok(count.calls <= 2, `${count.calls} writes for 4 lines`)
  assert.deepEqual((await lines(file)).map((e) => (e as { r: { time: number } }).r.time), [1, 2, 3, 4])
})

test('a replica journals the records it accepts together, with the next batch', async (t) => {
  const key = generateStreamKey()
  const src = await StreamLog.createSource(await tempDir(t), key, 'live', { format: 'ts', targetDuration: 1 })
  defer(t, () => src.close())
  await src.append(bytesOf(10 * CHUNK_SIZE, 5))
  const dir = await tempDir(t)
  const rep = await StreamLog.openReplica(dir, src.id)
  defer(t, () => rep.close())
  const count = await countAppends(t, dir)
  for (let n = 0; n < 10; n++) assert.equal(rep.putChunkRecord(src.chunkRecord(n)).result, 'accept')
  await rep.flush()
  assert.ok(count.calls <= 2, `${count.calls} writes for 10 records (one each before)`)
  const journaled = (await lines(join(rep.path, 'records.jsonl'))) as Array<{ t: string; r: { n: number } }>
  assert.deepEqual(journaled.filter((e) => e.t === 'chunk').map((e) => e.r.n), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
})

test("a source's ended head is on disk when end() resolves, with no chunk mark pending", async (t) => {
  const dir = await tempDir(t)
  const src = await StreamLog.createSource(dir, generateStreamKey(), 'live', { format: 'ts', targetDuration: 1 })
  defer(t, () => src.close())
  // Whole chunks only, and their marks committed: end() publishes no chunk and has no mark to commit.
  await src.append(bytesOf(4 * CHUNK_SIZE, 3))
  await src.commitMarks()
  await src.end()
  // Read at once, not after a batch's second: a kill now must not forget that the stream ended.
  const heads = ((await lines(join(src.path, 'records.jsonl'))) as Array<{ t: string; r: { ended: boolean } }>).filter((e) => e.t === 'head')
  assert.ok(heads.some((e) => e.r.ended), `no ended head on disk: ${heads.length} heads journaled`)
})
