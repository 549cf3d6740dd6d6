// `status --audience` on a viewer names its whole way up its report tree (SwarmStatus.pathToSource), not
// only its parent: "source" where the path reaches it, "..." where it does not (yet).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatAudience } from '../../src/cli/audience-format.ts'
import { audienceView } from '../../src/mesh/telemetry/audience-view.ts'
import { emptySummary } from '../../src/mesh/telemetry/audience-summary.ts'

const view = audienceView({ ...emptySummary(), viewers: 1, byDepth: [1] }, { windowMs: 10_000, delayWindow: null, kids: [], reporters: 0, traffic: { sent: 0, sentBytes: 0, received: 0, receivedBytes: 0, grantsSentBytes: 0, grantsReceivedBytes: 0 } })
const pathLine = (lines: string[]) => lines.find((l) => l.includes('path up'))

test('a viewer three levels down shows every hop to the source', () => {
  const lines = formatAudience('s', 'viewer', view, ['10.9.0.3:1', '10.9.0.2:1', '10.9.0.1:1'], ['10.9.0.1:1'])
  assert.equal(pathLine(lines), '  path up    10.9.0.3:1 -> 10.9.0.2:1 -> source 10.9.0.1:1')
})

test('a path that does not reach the source says so, and no parent is named as such', () => {
  assert.equal(pathLine(formatAudience('s', 'viewer', view, ['10.9.0.3:1'], ['10.9.0.1:1'])), '  path up    10.9.0.3:1 -> ...')
  assert.equal(pathLine(formatAudience('s', 'viewer', view, [], ['10.9.0.1:1'])), '  path up    no parent yet')
  assert.equal(pathLine(formatAudience('s', 'source', view, [], [])), undefined, 'the source has no way up')
})

test('the delay line says which chunks its percentiles are of', () => {
  const withWindow = { ...view, delayWindow: { from: 100_000, to: 130_000, endedMsAgo: 15_000 } }
  const line = formatAudience('s', 'source', withWindow).find((l) => l.includes('delay'))
  assert.match(line ?? '', /chunks published 45-15 s ago/)
})
