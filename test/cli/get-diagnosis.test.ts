// The words and give-up times of a `get` that is not receiving, on injected time.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { GetDiagnosis, getWaits, DEFAULT_GET_WAITS } from '../../src/cli/get-diagnosis.ts'

const id = 'ab'.repeat(32)
const none = { bytes: 0, rateBps: 0, peers: 0 }

test('no answer, lack, partial answers and stalls, each with its own wait', () => {
  const d = new GetDiagnosis(id, 0, DEFAULT_GET_WAITS)
  assert.match(d.observe(none, ['p:1'], [], 1000).line!, /^asking 1 peer for abababababab…$/)
  assert.match(d.observe(none, ['p:1'], [], 3000).line!, /no answer yet from p:1/)
  assert.equal(d.observe(none, ['p:1'], [], 14_000).giveUp, null)
  assert.equal(d.observe(none, ['p:1'], [], 15_000).giveUp?.code, 'ERR_NO_ANSWER')

  const lack = new GetDiagnosis(id, 0, DEFAULT_GET_WAITS)
  assert.match(lack.observe(none, ['p:1', 'p:2'], ['p:1', 'p:2'], 3000).line!, /2 peers answered; none has/)
  assert.equal(lack.observe(none, ['p:1', 'p:2'], ['p:1', 'p:2'], 4999).giveUp, null)
  assert.equal(lack.observe(none, ['p:1', 'p:2'], ['p:1', 'p:2'], 5000).giveUp?.code, 'ERR_NOT_FOUND')

  // One lacks it, one is silent: wait for the silent one as long as for no answer at all.
  const part = new GetDiagnosis(id, 0, DEFAULT_GET_WAITS)
  assert.match(part.observe(none, ['p:1', 'p:2'], ['p:1'], 6000).line!, /1 of 2 peers answered, none has it; no answer yet from p:2/)
  assert.equal(part.observe(none, ['p:1', 'p:2'], ['p:1'], 6000).giveUp, null)
  assert.equal(part.observe(none, ['p:1', 'p:2'], ['p:1'], 15_000).giveUp?.code, 'ERR_NOT_FOUND')

  const stall = new GetDiagnosis(id, 0, DEFAULT_GET_WAITS)
  assert.equal(stall.observe({ bytes: 4096, size: 1 << 20, rateBps: 1, peers: 1 }, ['p:1'], ['p:1'], 1000).line, null, 'receiving: ordinary progress')
  assert.equal(stall.observe({ bytes: 4096, size: 1 << 20, rateBps: 0, peers: 1 }, ['p:1'], ['p:1'], 3500).line, null)
  assert.match(stall.observe({ bytes: 4096, size: 1 << 20, rateBps: 0, peers: 1 }, ['p:1'], ['p:1'], 5000).line!, /stopped sending: no block for 4 s/)
  assert.equal(stall.observe({ bytes: 4096, size: 1 << 20, rateBps: 0, peers: 1 }, ['p:1'], ['p:1'], 61_000).giveUp?.code, 'ERR_STALLED')
})

test('an explicit --timeout replaces the waits, and caps the lack wait', () => {
  assert.deepEqual(getWaits(2), { sayAfterMs: 2000, lackMs: 2000, silentMs: 2000, stalledMs: 2000 })
  assert.deepEqual(getWaits(120), { sayAfterMs: 3000, lackMs: 5000, silentMs: 120_000, stalledMs: 120_000 })
  assert.equal(new GetDiagnosis(id, 0, getWaits(2)).observe(none, [], [], 2000).giveUp?.code, 'ERR_NO_ANSWER')
})
