import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TokenBucket } from '../../../src/mesh/bandwidth/token-bucket.ts'
import { RateMeter } from '../../../src/mesh/bandwidth/rate-meter.ts'
import { VirtualTimers } from '../../../src/util/timers.ts'

test('token bucket: starts full, a send may run into debt, the refill pays it at the rate and stops at the burst', async () => {
  const t = new VirtualTimers()
  const b = new TokenBucket(t, { rate: 1000, burst: 500 })
  assert.ok(b.ready())
  b.take(2000)
  assert.equal(b.tokens(), -1500)
  assert.ok(!b.ready())
  // 1501 bytes at 1000 a second: 1.501 s until a byte is in hand.
  assert.equal(b.msUntilReady(), 1501)
  await t.runFor(1000)
  assert.equal(b.tokens(), -500)
  await t.runFor(10_000)
  assert.equal(b.tokens(), 500, 'never above the burst')
  assert.throws(() => new TokenBucket(t, { rate: 0, burst: 1 }), RangeError)
})

test('token bucket: sending whenever ready holds a minute to rate x time + burst + one datagram', async () => {
  const t = new VirtualTimers()
  const rate = 125_000
  const b = new TokenBucket(t, { rate, burst: 31_250 })
  let sent = 0
  // A sender that always has more: 40 KiB datagrams whenever the bucket allows, checked every ms.
  while (t.now() < 60_000) {
    while (b.ready()) { b.take(40_960); sent += 40_960 }
    await t.runFor(Math.max(1, b.msUntilReady()))
  }
  assert.ok(sent <= rate * 60 + 31_250 + 40_960, `sent ${sent}`)
  assert.ok(sent >= rate * 60 * 0.99, `sent ${sent}: the limit is also reached`)
})

test('rate meter: bytes a second over the last five seconds, forgetting older ones', async () => {
  const t = new VirtualTimers({ start: 10_000 })
  const m = new RateMeter(t)
  for (let i = 0; i < 100; i++) { m.add(1000); await t.runFor(100) }
  // 10 KB a second for ten seconds.
  assert.ok(Math.abs(m.perSecond() - 10_000) < 600, `rate ${m.perSecond()}`)
  await t.runFor(6000)
  assert.equal(m.perSecond(), 0)
  assert.equal(m.total, 100_000)
})

test('token bucket: holds() and msUntil() for sends that leave tokens to others', async () => {
  const t = new VirtualTimers()
  const b = new TokenBucket(t, { rate: 1000, burst: 500 })
  assert.ok(b.holds(500))
  b.take(100)
  assert.ok(!b.holds(500) && b.holds(400) && b.ready())
  assert.equal(b.msUntil(500), 100)
  assert.equal(b.msUntil(400), 0)
  await t.runFor(100)
  assert.ok(b.holds(500))
})
