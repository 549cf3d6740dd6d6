import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CountMedian, SMOOTH_MS } from '../../../src/mesh/telemetry/count-median.ts'

const TICK = 50
const sample = (at: number, viewers: number) => ({ at, viewers, byDepth: [0, viewers], suspect: 0 })

test('a move\'s brief error is dropped, a real change is followed within half the window, and the depths come with the count', () => {
  const m = new CountMedian()
  assert.equal(m.median(), undefined)
  let t = 0
  for (; t < 5000; t += TICK) m.add(sample(t, 100))
  // A subtree of 9 left one branch; its arrival on the other climbs 600 ms later.
  for (const end = t + 600; t < end; t += TICK) { m.add(sample(t, 91)); assert.equal(m.median()!.viewers, 100) }
  for (const end = t + 2000; t < end; t += TICK) m.add(sample(t, 100))
  // 20 % left for good: shown once they are more than half of the window.
  const left = t
  while (m.median()!.viewers !== 80) { m.add(sample(t, 80)); t += TICK }
  assert.ok(t - left <= SMOOTH_MS / 2 + TICK, `followed after ${t - left} ms`)
  assert.deepEqual(m.median()!.byDepth, [0, 80])
})
