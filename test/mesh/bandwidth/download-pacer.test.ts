import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DownloadPacer } from '../../../src/mesh/bandwidth/download-pacer.ts'
import { answerBytes } from '../../../src/mesh/download-session.ts'
import { encodeMessage } from '../../../src/mesh/messages.ts'
import { VirtualTimers } from '../../../src/util/timers.ts'

test('download pacer: file requests reserve their answers; stream arrivals go first and hold the files back', async () => {
  const t = new VirtualTimers()
  const rate = 125_000
  const p = new DownloadPacer({ clock: t }, { bytesPerSecond: rate })
  let fileBytes = 0
  let streamBytes = 0
  // Every 10 ms: 500 bytes of stream arrive unasked (50 KB/s), then a downloader asks for as many
  // 5.6 KB answers as the pacer lets it (answers arrive reserved).
  for (let ms = 0; ms < 60_000; ms += 10) {
    p.arrived(500, false)
    streamBytes += 500
    while (p.reserve(5600)) { p.arrived(5600, true); fileBytes += 5600 }
    await t.runFor(10)
  }
  const total = fileBytes + streamBytes
  assert.ok(total <= rate * 60 * 1.01 && total >= rate * 60 * 0.97, `received ${total} in a minute, limit ${rate * 60}`)
  assert.equal(streamBytes, 500 * 6000, 'the stream is never held')
  assert.ok(fileBytes >= (rate - 50_000) * 60 * 0.95, `files took the rest: ${fileBytes}`)
  const st = p.status()
  assert.equal(st.limitBytesPerSecond, rate)
  assert.equal(st.receivedBytes, total)
  assert.ok(st.deferredBytes > 0)
})

test('download pacer: without a limit every request goes and arrivals are only counted', () => {
  const p = new DownloadPacer({ clock: new VirtualTimers() })
  for (let i = 0; i < 1000; i++) assert.ok(p.reserve(40_000))
  p.arrived(1234, false)
  assert.deepEqual({ ...p.status(), rateBytesPerSecond: 0 }, { limitBytesPerSecond: null, rateBytesPerSecond: 0, receivedBytes: 1234, deferredBytes: 0 })
})

test('answerBytes: at least the wire size of the answer it pays for, and within a few percent of it', () => {
  const id = 'ab'.repeat(32)
  for (const len of [4096, 40_960]) {
    const wire = JSON.stringify([{ AlwaysReturned: { cookie: 'c0ffee12' } }, encodeMessage({ type: 'Content', id, offset: 123 * 4096, data: Buffer.alloc(len), eof: 50_000_000 })]).length
    const est = answerBytes(id, 123 * 4096, len, 50_000_000, false)
    assert.ok(est >= wire && est <= wire * 1.03, `${len}: estimate ${est}, wire ${wire}`)
  }
})
