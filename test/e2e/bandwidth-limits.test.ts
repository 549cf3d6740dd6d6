// --max-upload and --max-download with real processes on loopback: a seeder capped at 2 Mbit/s
// serving a big file to two nodes stays under its cap, as does a node capped at 2 Mbit/s fetching
// from an uncapped seeder; `status`, /status.json and /metrics show the limits and what they held
// back. The margins are generous (the cap is checked, not the last percent: scripts/bench-bandwidth.ts
// measures that over a minute), and the lower bounds only show the transfer moved at all.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { runCli, sleep, tempDir, until } from '../helpers/cli-process.ts'
import { fetchOn, randomFile, rates, sample, shareInto, startNode, statusOf } from '../helpers/bandwidth-swarm.ts'

const CAP = '2M'
const CAP_BYTES = 2e6 / 8
const MEASURE_MS = 12_000

/** `node`'s rate one way over MEASURE_MS: under the cap (with a margin) and moving at all. */
async function checkRate(t: TestContext, node: Parameters<typeof sample>[0], way: 'out' | 'in', who: string): Promise<void> {
  const a = await sample(node)
  await sleep(MEASURE_MS)
  const r = rates(a, await sample(node))
  const said = `${who} ${way === 'out' ? 'sent' : 'received'} ${Math.round(r[way])} B/s over ${r.seconds.toFixed(1)} s (cap ${CAP_BYTES})`
  t.diagnostic(said)
  assert.ok(r[way] <= CAP_BYTES * 1.15, said)
  assert.ok(r[way] >= CAP_BYTES * 0.3, `${said}: the transfer moved`)
}

test('--max-upload: a seeder serving two nodes stays under its cap; status and metrics show it', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-bw-up-')
  const file = await randomFile(join(dir, 'big.bin'), 16)
  const id = await shareInto(join(dir, 'seeder'), file)
  const seeder = await startNode(t, join(dir, 'seeder'), ['--max-upload', CAP])
  const getters = [await startNode(t, join(dir, 'g1')), await startNode(t, join(dir, 'g2'))]
  for (const g of getters) await fetchOn(g, id, [seeder.udp])
  await until('the seeder to send file data', 30_000, async () => (await statusOf(seeder)).counters.bytesOut > 200_000)
  await checkRate(t, seeder, 'out', 'seeder')

  const st = await statusOf(seeder)
  assert.equal(st.bandwidth.upload.limitBytesPerSecond, CAP_BYTES)
  assert.equal(st.bandwidth.download.limitBytesPerSecond, null)
  assert.ok(st.bandwidth.upload.deferredBytes > 0, 'the getters asked for more than the cap: some waited')
  // The status loop reports every 5 s.
  await until('the limit in /metrics', 15_000, async () => (await (await fetch(`${seeder.http}/metrics`)).text()).includes(`cjp2p_bandwidth_limit_bytes_per_second{direction="upload"} ${CAP_BYTES}`))
  const text = await (await fetch(`${seeder.http}/metrics`)).text()
  const deferred = Number(/cjp2p_bandwidth_deferred_bytes_total\{direction="upload"\} (\d+)/.exec(text)?.[1])
  assert.ok(deferred > 0, `deferred bytes in /metrics: ${deferred}`)
  const port = new URL(seeder.http).port
  const shown = await runCli(['status', '--http-port', port])
  assert.equal(shown.code, 0, shown.stderr)
  assert.match(shown.stdout, /^upload +[\d.]+ [kM]b\/s \(limit 2\.00 Mb\/s\)/m)
  assert.match(shown.stdout, /^download .*\(no limit\)/m)
})

test('--max-download: a node fetching from an uncapped seeder stays under its cap', { timeout: 180_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-bw-down-')
  const file = await randomFile(join(dir, 'big.bin'), 16)
  const id = await shareInto(join(dir, 'seeder'), file)
  const seeder = await startNode(t, join(dir, 'seeder'))
  const getter = await startNode(t, join(dir, 'getter'), ['--max-download', CAP])
  await fetchOn(getter, id, [seeder.udp])
  await until('the getter to receive file data', 30_000, async () => (await statusOf(getter)).counters.bytesIn > 200_000)
  await checkRate(t, getter, 'in', 'getter')
  const st = await statusOf(getter)
  assert.equal(st.bandwidth.download.limitBytesPerSecond, CAP_BYTES)
  assert.ok(st.bandwidth.download.deferredBytes > 0, 'requests waited for the bucket')
})

test('--max-upload and --max-download refuse a rate that is not one, in one line', async () => {
  const r = await runCli(['node', '--max-upload', 'fast', '--port', '0', '--http-port', '0'])
  assert.equal(r.code, 2)
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  assert.match(r.stderr, /not a rate: "fast"/)
})
