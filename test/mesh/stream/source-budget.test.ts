// The source's rescue allowance (SourceBudget.pullCause), judged alone: its bytes bound the answers
// as well as the bytes, whatever length an asker names.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SourceBudget } from '../../../src/mesh/stream/source-budget.ts'
import type { SwarmContext } from '../../../src/mesh/stream/swarm-context.ts'
import type { SwarmStats } from '../../../src/mesh/stream/swarm-stats.ts'
import { SOURCE_RESCUE_ASKER_SHARE, SOURCE_RESCUE_BUDGET, SOURCE_RESCUE_BURST_BYTES } from '../../../src/mesh/stream-policy.ts'
import { BLOCK_SIZE } from '../../../src/store/stream-types.ts'

test('an asker of one byte at a time gets no more rescued answers than the allowance holds blocks', () => {
  const totals = { producedBytes: 0 }
  const context = { isSource: true, log: { hasChunk: () => true } } as unknown as SwarmContext
  const budget = new SourceBudget({ context, stats: { totals } as unknown as SwarmStats })
  budget.childTaken()
  totals.producedBytes = 64 * 1024 * 1024
  // The ordinary repair budget spent, as in a join wave: only the rescue is left.
  budget.pulled(1, totals.producedBytes, 'pull')
  let answers = 0
  for (let n = 0; n < 20_000; n++) {
    for (let ask = 0; ask < 5; ask++) {
      if (budget.pullCause(n, { from: '203.0.113.5:7', verified: true, bytes: 1 }) !== null) answers++
    }
  }
  const allowance = totals.producedBytes * SOURCE_RESCUE_BUDGET + SOURCE_RESCUE_BURST_BYTES
  const most = Math.ceil((allowance * SOURCE_RESCUE_ASKER_SHARE) / BLOCK_SIZE) + 1
  assert.ok(answers > 0, 'the rescue still answers a verified asker')
  assert.ok(answers <= most, `${answers} answers to one-byte asks; the asker's share holds ${most} blocks`)
})
