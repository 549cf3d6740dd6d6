// The uplink estimate on virtual time, against the link model's own bottleneck (src/mesh/link.ts):
// what a node sends into a link slower than its sending is learned within a few tenths of the
// link's rate, never above it; a link never filled gives no figure (a viewer on it keeps claiming
// an interior node's places); and a short burst into a fast link is no reason to think it slow.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { VirtualTimers } from '../../../src/util/timers.ts'
import { Bottleneck } from '../../../src/mesh/link.ts'
import { UplinkEstimate } from '../../../src/mesh/bandwidth/uplink-estimate.ts'

const DATAGRAM = 5600

/** Sends `offered` bytes a second into a link of `link` bytes a second for `ms` (one datagram at
 * a time, evenly), the estimate sampling as a node's sends do; returns what it learned. */
async function run(link: number, offered: number, ms: number, bursts?: { every: number; bytes: number }): Promise<number | undefined> {
  const timers = new VirtualTimers({ seed: 1, start: 1_000_000 })
  const neck = new Bottleneck(link)
  const est = new UplinkEstimate({ clock: timers, read: () => neck.counters(timers.now()) })
  const send = (bytes: number) => { neck.pass(timers.now(), bytes); est.sample() }
  if (offered > 0) timers.setInterval(() => send(DATAGRAM), (DATAGRAM * 1000) / offered)
  if (bursts) timers.setInterval(() => { for (let b = 0; b < bursts.bytes; b += DATAGRAM) send(DATAGRAM) }, bursts.every)
  await timers.runFor(ms)
  return est.bytesPerSecond()
}

test('a link slower than what is sent into it is measured near its rate and never above it', async () => {
  for (const [link, offered] of [[12_500, 30_000], [125_000, 250_000], [125_000, 140_000], [1_000_000, 3_000_000]]) {
    const got = await run(link, offered, 10_000)
    assert.ok(got !== undefined, `${link} B/s link fed ${offered} B/s: not measured`)
    assert.ok(got <= link * 1.001 && got >= link * 0.8, `${link} B/s link fed ${offered} B/s measured at ${got.toFixed(0)} B/s`)
  }
})

test('a link never filled gives no figure, and a burst into a fast link none that would make it a leaf', async () => {
  assert.equal(await run(0, 250_000, 10_000), undefined, 'unlimited link')
  assert.equal(await run(500_000, 250_000, 10_000), undefined, 'a link with room to spare')
  // A new child's catch-up (a dozen chunks at once) into a link of four copies: it may be seen
  // busy for a moment, and then what left in that moment is the link's rate, not the stream's.
  const got = await run(1_000_000, 250_000, 10_000, { every: 2000, bytes: 12 * 50_000 })
  assert.ok(got === undefined || got >= 800_000, `a burst made a 1 MB/s link look like ${got} B/s`)
})

// Steady traffic with bursts on top, all of it under the link's rate: the queue is full at some
// looks and empty between. Counting a span as busy from its two ends measured the demand, not the
// link (a 1 MB/s link carrying 750 KB/s read 690 KB/s, and the pacer then held the viewer under
// what it was sending: review, session 8). A figure, when there is one, is at least the demand.
test('bursty traffic under the link\'s rate is not taken for the link', async () => {
  for (const [steady, every, bytes] of [[300_000, 333, 150_000], [500_000, 1000, 300_000], [200_000, 90, 60_000], [400_000, 270, 120_000], [600_000, 510, 180_000]]) {
    const got = await run(1_000_000, steady, 300_000, { every, bytes })
    const demand = steady + (bytes / every) * 1000
    assert.ok(got === undefined || got >= demand, `demand ${demand.toFixed(0)} B/s (${steady} steady + ${bytes} B every ${every} ms) measured as a ${got?.toFixed(0)} B/s link`)
  }
})
