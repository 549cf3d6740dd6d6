// The axis ticks of the dashboard's charts, from the very script the browser runs: a count axis
// (stalls) only ever shows whole numbers, evenly spaced, reaching past the largest value.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { runInNewContext } from 'node:vm'

type Ticks = (v: number, integer?: boolean) => { max: number; ticks: number[] }

function loadCharts(): { axisTicks: Ticks } {
  const window: Record<string, unknown> = {}
  runInNewContext(readFileSync(new URL('../../src/player/static/dashboard-charts.js', import.meta.url), 'utf8'), { window })
  const charts = window.cjp2pCharts as { axisTicks: Ticks }
  // Arrays made in the script's realm are copied into ours, so deepEqual compares values only.
  return { axisTicks: (v, integer) => { const r = charts.axisTicks(v, integer); return { max: r.max, ticks: [...r.ticks] } } }
}

test('count axes get whole, evenly spaced ticks (never 0, 1, 3, 4, 5)', () => {
  const { axisTicks } = loadCharts()
  assert.deepEqual(axisTicks(4, true).ticks, [0, 1, 2, 3, 4])
  assert.deepEqual(axisTicks(0, true).ticks, [0, 1])
  assert.deepEqual(axisTicks(7, true).ticks, [0, 2, 4, 6, 8])
  for (let v = 0; v <= 5000; v += v < 60 ? 1 : 37) {
    const { max, ticks } = axisTicks(v, true)
    assert.ok(ticks.every(Number.isInteger), `${v}: ${ticks}`)
    assert.ok(max >= v && ticks.at(-1) === max && ticks[0] === 0, `${v}: ${ticks}`)
    assert.ok(ticks.length >= 2 && ticks.length <= 6, `${v}: ${ticks.length} ticks`)
    const step = ticks[1] - ticks[0]
    assert.ok(ticks.every((t, i) => t === i * step), `${v}: evenly spaced ${ticks}`)
  }
  // Rates and shares keep four even steps up to a round bound.
  assert.deepEqual(axisTicks(1.6e6).ticks, [0, 5e5, 1e6, 1.5e6, 2e6])
})

test('rate and delay axes step by 1, 2 or 5 times a power of ten (never 1.25 s, read as "1.3 s")', () => {
  const { axisTicks } = loadCharts()
  assert.deepEqual(axisTicks(4500).ticks, [0, 1000, 2000, 3000, 4000, 5000])
  assert.deepEqual(axisTicks(0.83).ticks, [0, 0.2, 0.4, 0.6, 0.8, 1])
  for (let v = 0.01; v <= 1e8; v *= 1.37) {
    const { max, ticks } = axisTicks(v)
    const step = ticks[1] - ticks[0]
    const mantissa = Number((step / Math.pow(10, Math.floor(Math.log10(step)))).toPrecision(6))
    assert.ok([1, 2, 5].includes(mantissa), `${v}: step ${step}`)
    assert.ok(max >= v && ticks.at(-1) === max && ticks[0] === 0 && ticks.length >= 2 && ticks.length <= 6, `${v}: ${ticks}`)
    // Well used: the axis is never more than 2.5 times the largest value (1.01 under 2 ticks of 1).
    assert.ok(max <= Math.max(2.5 * v, step), `${v}: max ${max}`)
  }
})

test('a chart of bytes/s printed in bits/s steps by 1, 2 or 5 x 10^k in bits (not 0.4 or 1.6 Mbit/s)', async () => {
  const { FakeElement, loadDashboardScripts } = await import('./fake-svg-dom.ts')
  const charts = loadDashboardScripts(['dashboard-charts.js']).window.cjp2pCharts as { lineChart(host: unknown, opts: unknown): InstanceType<typeof FakeElement> }
  const bits = (bytesPerSecond: number) => `${((bytesPerSecond * 8) / 1e6).toFixed(1)} Mbit/s`
  const ticks = (top: number) => charts.lineChart(new FakeElement('div'), { t: [-2, -1, 0], format: bits, unit: 8, series: [{ name: 'up', color: '#fff', values: [top / 2, top] }] })
    .all('text').filter((t) => t.getAttribute('class') === 'tick-y').map((t) => t.textContent)
  // A 1.5 Mb/s stream's upload (200 kB/s = 1.6 Mbit/s); a 6.4 Mbit/s one (rounded in bytes: 1.6 Mbit/s steps).
  assert.deepEqual(ticks(2e5), ['0.0 Mbit/s', '0.5 Mbit/s', '1.0 Mbit/s', '1.5 Mbit/s', '2.0 Mbit/s'])
  assert.deepEqual(ticks(8e5), ['0.0 Mbit/s', '2.0 Mbit/s', '4.0 Mbit/s', '6.0 Mbit/s', '8.0 Mbit/s'])
})
