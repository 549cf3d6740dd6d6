// BlockPlan.focus: a reader's position (a player's seek) moves the next requests there; once the
// rest of the file from there is had or asked for, the plan goes back to the first missing block.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BlockPlan } from '../../src/mesh/block-plan.ts'

test('focus moves the next runs to the reader, then the plan returns to the front', () => {
  const plan = new BlockPlan(100, () => false)
  assert.deepEqual(plan.take(4), { first: 0, count: 4 })
  plan.focus(50)
  assert.deepEqual(plan.take(4), { first: 50, count: 4 })
  assert.deepEqual(plan.take(4), { first: 54, count: 4 })
  for (let i = 58; i < 100; i += 4) plan.take(4)
  assert.deepEqual(plan.take(4), { first: 4, count: 4 }, 'back to the first missing block')
})

test('a request released inside the focused range is asked again before the front', () => {
  const plan = new BlockPlan(100, (i) => i === 61)
  plan.focus(60)
  assert.deepEqual(plan.take(1), { first: 60, count: 1 })
  assert.deepEqual(plan.take(1), { first: 62, count: 1 }, 'a block already had is skipped')
  plan.release(60)
  assert.deepEqual(plan.take(1), { first: 60, count: 1 }, 'the released block goes first')
  assert.deepEqual(plan.take(1), { first: 63, count: 1 })
})

test('a focus outside the file is ignored', () => {
  const plan = new BlockPlan(10, () => false)
  plan.focus(10)
  plan.focus(-1)
  plan.focus(Number.NaN)
  assert.deepEqual(plan.take(2), { first: 0, count: 2 })
})
