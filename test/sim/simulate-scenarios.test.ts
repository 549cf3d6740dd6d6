// `npm run simulate -- --all`: issue 12's scenarios run the shipped swarm and land in one table with
// the goals beside the figures, and the loss sweep's chart draws every series it is given.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { simulate, type SimOptions } from '../../src/sim/simulation.ts'
import { measure, scenarioTable, sweepTable, type SimResult } from '../../scripts/simulate-report.ts'
import { SCENARIOS } from '../../scripts/simulate-scenarios.ts'
import { lossChart } from '../../scripts/simulate-chart.ts'

const base: SimOptions = {
  viewers: 8, seconds: 10, bitrateBps: 2_000_000, link: { delayMs: 25, loss: 0 }, uploadCapacity: 0, uplinks: [], sourceCapacity: 0,
  joinSpreadMs: 800, churnPerMin: 0, bootstrapViewers: 0, handover: true, seed: 4,
}

async function run(name: string): Promise<SimResult> {
  const sc = SCENARIOS[name]
  const r = await simulate({ ...base, ...sc.over, viewers: base.viewers, seconds: base.seconds })
  return { options: r.options, seconds: r.seconds, ...measure(r, sc.graceMs), wallSeconds: 0, cpuSeconds: 0, peakRssMb: 0, liveHeapMb: null, events: r.events, orphanTimers: r.orphanTimers }
}

test('the uneven-uplinks and flash-crowd scenarios run the swarm and print one row each with their goal', async () => {
  const uneven = await run('uneven')
  assert.deepEqual(uneven.options.uplinks.map((u) => u.share), [0.3, 0.1])
  const flash = await run('flash')
  const out = scenarioTable([{ scenario: SCENARIOS.uneven, result: uneven }, { scenario: SCENARIOS.flash, result: flash }])
  const lines = out.split('\n')
  assert.equal(lines.length, 4, out)
  assert.match(lines[2], /^\| uneven uplinks: .* \| <= 1\.1, >= 99\.9 %, <= 1 s, <= 3 % \| (yes|no) \|/)
  assert.match(lines[3], /^\| flash crowd: .* \| <= 1\.1, >= 99\.5 % \| (yes|no) \|/)
  assert.ok(flash.figures.completeness.viewersCounted > 0, 'the flash crowd counts viewers after their first 5 s')
  assert.match(sweepTable([{ loss: 0, result: flash }]), /\| 0\.0 % \| \d+ \| \d\.\d{3} \|/)
})

test('the loss chart draws a line and a point per loss rate for each series, and a goal line per panel', () => {
  const pts = [0, 0.01, 0.05].map((loss) => ({ loss, sourceCopies: 1 + loss * 10, worst: 1 - loss }))
  const svg = lossChart('t <&>', [{ label: 'before', points: pts }, { label: 'after', points: pts.map((p) => ({ ...p, sourceCopies: 1 })) }])
  assert.match(svg, /^<svg /)
  assert.equal((svg.match(/<path /g) ?? []).length, 4, 'two series in two panels')
  assert.equal((svg.match(/<circle /g) ?? []).length, 12)
  assert.equal((svg.match(/>goal</g) ?? []).length, 2)
  assert.ok(svg.includes('t &lt;&amp;&gt;'), 'text is escaped')
})
