// `npm run simulate -- --audience --wall-limit s`: the audience run ends at its time budget, as the
// other simulations do, and says how far it got and what it had read by then. Main ignored the
// budget there: a 10,000-viewer audience run could not be cut short.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { audienceRun, type AudienceRunOptions } from '../../src/sim/audience-run.ts'
import { LEAD_MS } from '../../src/sim/simulation.ts'

const base: AudienceRunOptions = {
  viewers: 12, seed: 1, bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0.01 },
  joinSpreadMs: 2_000, settleMs: 2_000, steadyMs: 4_000, leaveShare: 0.2,
}
/** The budget is asked every 100 virtual ms from the swarm's start (the source alone for LEAD_MS). */
const STEP_MS = 100

/** A budget that runs out at its `calls`-th question: virtual time, whatever the machine's load. */
function budget(calls: number): () => boolean {
  let asked = 0
  return () => ++asked >= calls
}

test('a budget that runs out in the steady phase ends the run there, with the count read after the joins', async () => {
  // The joins end at LEAD_MS + 2 s and are read 2 s later; the budget ends 1 s after that.
  const at = base.joinSpreadMs + base.settleMs + 1_000
  const r = await audienceRun(base, budget((LEAD_MS + at) / STEP_MS))
  assert.ok('stoppedAtMs' in r, `the run went on past its budget: ${JSON.stringify(r).slice(0, 200)}`)
  assert.equal(r.stoppedAtMs, at)
  assert.equal(r.joined?.present, base.viewers)
})

test('a budget spent during the lead stops the run at the first join: nothing read yet', async () => {
  const r = await audienceRun(base, budget(1))
  assert.ok('stoppedAtMs' in r)
  assert.equal(r.stoppedAtMs, STEP_MS)
  assert.equal(r.joined, undefined)
})

test('simulate --audience --wall-limit stops a run that would take minutes and says where', async () => {
  // 400 viewers' audience run (10 s of joins, then 10 + 40 + 10 s) is minutes of CPU; 1 s of wall
  // time ends it in the join wave. Killed after 3 minutes: a budget ignored would run on.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/simulate.ts', '--audience', '--viewers', '400', '--wall-limit', '1'],
    { cwd: resolve(import.meta.dirname, '../..'), timeout: 180_000, killSignal: 'SIGKILL' })
  let stdout = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d })
  const status = await new Promise<number | null>((done) => child.once('close', done))
  assert.equal(status, 0, stdout)
  assert.match(stdout, /^viewers 400 .*stopped by --wall-limit at virtual s \d+\.\d\n {2}before the count 10 s after the last join\n$/, stdout)
})
