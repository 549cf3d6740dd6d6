import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parsePlaybackReport } from '../../src/player/playback-report.ts'

test('accepts sane reports', () => {
  assert.deepEqual(parsePlaybackReport({ stalls: 2, stallSeconds: 1.5, latencySeconds: 2.1 }),
    { report: { stalls: 2, stallSeconds: 1.5, latencySeconds: 2.1 } })
  assert.deepEqual(parsePlaybackReport({ stalls: 0, stallSeconds: 0, latencySeconds: null }),
    { report: { stalls: 0, stallSeconds: 0, latencySeconds: null } })
  assert.deepEqual(parsePlaybackReport({ stalls: 0, stallSeconds: 0 }), { report: { stalls: 0, stallSeconds: 0, latencySeconds: null } })
})

test('refuses anything else', () => {
  for (const body of [null, [], 'x', 5, {}, { stalls: -1, stallSeconds: 0 }, { stalls: 1.5, stallSeconds: 1 },
    { stalls: 1e6, stallSeconds: 1 }, { stalls: 1, stallSeconds: -1 }, { stalls: 1, stallSeconds: 1e9 },
    { stalls: 0, stallSeconds: 3 }, { stalls: '1', stallSeconds: 1 }, { stalls: 1, stallSeconds: 1, latencySeconds: -2 },
    { stalls: 1, stallSeconds: 1, latencySeconds: 'x' }]) {
    assert.ok('error' in parsePlaybackReport(body), JSON.stringify(body))
  }
})
