import { test } from 'node:test'
import assert from 'node:assert/strict'
import { UploadPacer } from '../../../src/mesh/bandwidth/upload-pacer.ts'
import { VirtualTimers } from '../../../src/util/timers.ts'
import type { TrafficKind } from '../../../src/metrics/types.ts'

/** A pacer whose emits are recorded with their lane and virtual time. */
function recorder(rate?: number) {
  const t = new VirtualTimers()
  const pacer = new UploadPacer({ timers: t }, { bytesPerSecond: rate })
  const out: Array<{ lane: TrafficKind; bytes: number; at: number }> = []
  // Stream datagrams are live pushes here (ahead of what can wait: the last test).
  const send = (lane: TrafficKind, bytes: number) => pacer.send(bytes, lane, () => out.push({ lane, bytes, at: t.now() }), lane === 'stream')
  const sum = (lane?: TrafficKind, from = 0, to = Infinity) => out.filter((o) => (!lane || o.lane === lane) && o.at >= from && o.at < to).reduce((a, o) => a + o.bytes, 0)
  return { t, pacer, out, send, sum }
}

test('upload pacer: without a limit everything leaves at once and only the rate is counted', () => {
  const { pacer, out, send } = recorder()
  for (let i = 0; i < 100; i++) send('file', 40_000)
  assert.equal(out.length, 100)
  const st = pacer.status()
  assert.equal(st.limitBytesPerSecond, null)
  assert.equal(st.sentBytes, 4_000_000)
  assert.equal(st.deferredBytes + st.droppedBytes, 0)
})

test('upload pacer: a file sender that always has more is held to the limit over a minute', async () => {
  const rate = 125_000
  const { t, pacer, send, sum } = recorder(rate)
  // A downloader with a deep window: it asks again as soon as an answer leaves (more than the limit).
  const timer = t.setInterval(() => { for (let i = 0; i < 4; i++) send('file', 5600) }, 20)
  await t.runFor(61_000)
  t.clear(timer)
  const minute = sum('file', 1000, 61_000)
  assert.ok(minute <= rate * 60 * 1.01 && minute >= rate * 60 * 0.97, `sent ${minute} in a minute, limit ${rate * 60}`)
  const st = pacer.status()
  assert.ok(st.droppedBytes > 0, 'what the queue could not hold was dropped')
  assert.ok(st.deferredBytes > 0)
  assert.ok(Math.abs(st.rateBytesPerSecond - rate) < rate * 0.1, `rate now ${st.rateBytesPerSecond}`)
})

test('upload pacer: stream goes before file; a file transfer cannot starve a live stream', async () => {
  const rate = 125_000
  const { t, pacer, out, send, sum } = recorder(rate)
  // A stream of 40 KB a second pushed in 4 KiB chunks, and files asked for far beyond the limit.
  const asked: number[] = []
  const stream = t.setInterval(() => { asked.push(t.now()); send('stream', 4096) }, 100)
  const files = t.setInterval(() => { for (let i = 0; i < 8; i++) send('file', 5600) }, 20)
  await t.runFor(30_000)
  t.clear(stream); t.clear(files)
  await t.runFor(200)
  const streamOut = out.filter((o) => o.lane === 'stream')
  assert.equal(streamOut.length, asked.length, 'every stream datagram left')
  // Each waits at most for the debt of the file datagrams that left before it came (the burst).
  const waits = streamOut.map((o, i) => o.at - asked[i])
  assert.ok(Math.max(...waits) <= 300, `longest stream wait ${Math.max(...waits)} ms`)
  const total = sum(undefined, 1000, 30_000)
  assert.ok(total <= rate * 29 * 1.02, `total ${total} within the limit`)
  assert.ok(sum('file', 1000, 30_000) >= rate * 29 * 0.6, 'files take the rest')
  assert.equal(pacer.status().queuedBytes.stream, 0)
})

test('upload pacer: control before stream before file; files only from a nearly full bucket; stale ones dropped; close() drops what waits', async () => {
  const { t, pacer, out, send } = recorder(12_000) // the smallest burst, 16 KiB
  send('file', 20_000) // from a full bucket: leaves, and the bucket is 3.6 KB in debt
  send('file', 1000)
  send('stream', 1000)
  send('control', 100)
  assert.deepEqual(out.map((o) => o.lane), ['file'])
  await t.runFor(1000)
  assert.deepEqual(out.map((o) => o.lane), ['file', 'control', 'stream'], 'control, then stream, before the file datagram that came first')
  // The file datagram waits for three quarters of a bucket (1.4 s here), past its lane's second: dropped, not sent late.
  await t.runFor(1000)
  assert.equal(out.length, 3)
  assert.equal(pacer.status().droppedBytes, 1000)
  send('file', 500)
  assert.equal(out.length, 4, 'a full bucket sends a file datagram at once')
  assert.ok(pacer.status().rateBytesPerSecond > 0)
  send('stream', 30_000)
  send('file', 700)
  pacer.close()
  pacer.close()
  await t.runFor(10_000)
  assert.equal(t.active, 0, 'no timer left')
  assert.equal(out.filter((o) => o.bytes === 700).length, 0)
  assert.deepEqual(pacer.status().sentByLane, { control: 100, stream: 31_000, file: 20_500 })
})

test('upload pacer: a live push goes ahead of stream that can wait, which leaves only from a nearly full bucket', async () => {
  const t = new VirtualTimers()
  const rate = 100_000 // a burst of 50 KB
  const pacer = new UploadPacer({ timers: t }, { bytesPerSecond: rate })
  const out: Array<{ what: string; at: number }> = []
  // A newcomer's catch-up: 100 KB that may wait behind the pushes (`ahead` false).
  for (let i = 0; i < 20; i++) pacer.send(5000, 'stream', () => out.push({ what: 'catch-up', at: t.now() }))
  assert.equal(out.length, 1, 'from a full bucket one leaves, and the rest wait for the bucket to fill again')
  await t.runFor(100)
  const before = out.length
  pacer.send(5000, 'stream', () => out.push({ what: 'push', at: t.now() }), true)
  assert.deepEqual(out.at(-1), { what: 'push', at: 100 }, 'the push leaves at once, ahead of the catch-up still waiting')
  // What waits leaves at the limit, never from less than nearly a full bucket: so what stands in
  // the modem's queue ahead of the next push (the bucket's debt at the same rate) stays small.
  const bucket = (pacer as unknown as { bucket: { tokens(): number; burst: number } }).bucket
  let lowest = Infinity
  const probe = t.setInterval(() => { if (pacer.status().queuedBytes.stream > 0) lowest = Math.min(lowest, bucket.tokens()) }, 1)
  await t.runFor(3000)
  t.clear(probe)
  assert.equal(out.filter((o) => o.what === 'catch-up').length, 20, 'the whole catch-up left')
  assert.ok(before < 20 && out.findIndex((o) => o.what === 'push') < out.length - 1, 'catch-up datagrams left after the push')
  // Never below nearly a full bucket less the datagram that left from there and the push.
  assert.ok(lowest >= 0.95 * bucket.burst - 2 * 5000, `the bucket held ${lowest} bytes or more while the catch-up waited`)
  const last = out.filter((o) => o.what === 'catch-up').at(-1)!.at
  assert.ok(last >= 900 && last <= 1300, `another 100 KB at 100 KB/s took until ${last} ms`)
})
