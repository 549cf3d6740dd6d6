import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decideRestart, DEFAULT_RESTART_POLICY as P } from '../../src/ingest/restart-policy.ts'

test('backoff doubles from 1 s, caps at 10 s, and gives up after 5 fast failures in a row', () => {
  let failures = 0
  const delays: number[] = []
  for (let i = 0; i < 4; i++) {
    const d = decideRestart(P, failures, 500)
    assert.equal(d.action, 'restart')
    if (d.action === 'restart') delays.push(d.delayMs)
    failures = d.fastFailures
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000])
  assert.deepEqual(decideRestart(P, failures, 500), { action: 'give-up', fastFailures: 5 })
  assert.deepEqual(decideRestart({ ...P, maxFastFailures: 100 }, 6, 500), { action: 'restart', delayMs: 10_000, fastFailures: 7 })
})

test('a run that lived long resets the count', () => {
  assert.deepEqual(decideRestart(P, 4, 60_000), { action: 'restart', delayMs: 1000, fastFailures: 1 })
})
