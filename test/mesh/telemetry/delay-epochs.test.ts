import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DelayEpochs } from '../../../src/mesh/telemetry/delay-epochs.ts'

test('delays add up by epoch, a window merges whole epochs, and taking them sends each once, oldest first', () => {
  const d = new DelayEpochs()
  d.add(10, 3, 2)
  d.add(10, 3, 1)
  d.add(11, 5, 4)
  d.add(11, 8, 2)
  d.add(12, 3, 1)
  assert.equal(d.total(10), 3)
  assert.equal(d.total(13), 0)
  assert.deepEqual(d.histogram(10, 11), [[3, 3], [5, 4], [8, 2]])
  assert.deepEqual(d.histogram(11, 12), [[3, 1], [5, 4], [8, 2]])
  // On the wire each epoch is a run: its first non-empty bucket and the counts from there to its last.
  assert.deepEqual(d.take(2), [[10, 3, [3]], [11, 5, [4, 0, 0, 2]]])
  assert.deepEqual(d.take(2), [[12, 3, [1]]])
  assert.deepEqual(d.take(2), [])
  d.add(1, 0, 1)
  d.add(5, 0, 1)
  d.prune(3)
  assert.equal(d.total(1), 0)
  assert.equal(d.total(5), 1)
})
