// Probation's slow start (src/mesh/bandwidth/probation.ts): one child with nothing shown, then
// twice the stripes the link carried without backing up, and none of it once that is a full
// node's places.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { probationChildren } from '../../../src/mesh/bandwidth/probation.ts'
import { FANOUT, SPARE_SLOTS } from '../../../src/mesh/stream-policy.ts'

const STRIPE = 62_500

test('probation: one child to begin with, doubling with what the link carried, over at a full node\'s places', () => {
  assert.equal(probationChildren(0, STRIPE), 1)
  assert.equal(probationChildren(0.3 * STRIPE, STRIPE), 1)
  assert.equal(probationChildren(1.01 * STRIPE, STRIPE), 2)
  assert.equal(probationChildren(2.2 * STRIPE, STRIPE), 4)
  assert.equal(probationChildren(((FANOUT + SPARE_SLOTS) / 2) * STRIPE, STRIPE), undefined)
})
