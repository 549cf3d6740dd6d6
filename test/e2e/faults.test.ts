// Faults through real processes (the same scenarios `npm run chaos` tables): a viewer and a relay
// killed with kill -9, the source's ffmpeg crashing, the source restarting, 20 % of viewers
// leaving, a peer that stops answering, a full disk (a real 3 MiB tmpfs when mount is permitted),
// a damaged store after a crash. After each: no verified byte lost, nothing unverified served,
// viewers recover, and the system said what happened.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { tempDir } from '../helpers/cli-process.ts'
import { formatTable, runChaos } from '../../scripts/chaos-scenarios.ts'

test('every fault scenario: nothing lost, nothing unverified served, viewers recover', { timeout: 240_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-faults-')
  const rows = await runChaos(dir, (s) => t.diagnostic(s.slice(0, 300)))
  t.diagnostic('\n' + formatTable(rows))
  assert.equal(rows.length, 8, 'every scenario ran')
  for (const r of rows) {
    assert.equal(r.unverifiedServed, 0, `${r.scenario}: unverified bytes served`)
    assert.equal(r.bytesLost, 0, `${r.scenario}: verified bytes lost (${r.message})`)
    assert.ok(r.maxAmp <= 2, `${r.scenario}: amplification ${r.maxAmp}`)
    if (/skipped/.test(r.message)) continue
    assert.ok(r.recoveryMs !== null, `${r.scenario}: never recovered (${r.message})`)
    assert.doesNotMatch(r.message, /NO MESSAGE|EXITED|CHANGED|WRONG/, r.scenario)
  }
  const restart = rows.find((r) => r.scenario === 'source restart')!
  // The goal is 3 s; measured 0.3 to 3.1 s across runs. The bound leaves room for a loaded 2-core
  // machine (seven processes and ffmpeg) and the 150 ms polling of five playlists.
  assert.ok(restart.recoveryMs! <= 4500, `viewers recovered ${restart.recoveryMs} ms after the source was back`)
})
