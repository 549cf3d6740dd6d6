// DHT lookup benchmark: N nodes (the shipped CjNode + Dht) on the in-process network and virtual
// time; random nodes look up the providers of random announced ids, then again with a share of the
// nodes gone at once (no time for the tables to heal). Prints the figures as a Markdown table.
//   npm run bench:dht [-- --nodes 200 --lookups 500 --gone 0.3 --delay 10 --seed 1]
import { scriptFlags } from './script-args.ts'
import { quantile, runDhtSwarm } from '../src/sim/dht-swarm.ts'
import type { LookupFigures } from '../src/sim/dht-swarm.ts'

const values = scriptFlags('bench:dht', 'npm run bench:dht [-- --nodes 200] [--ids 50] [--providers 2] [--lookups 500] [--gone 0.3] [--delay 10] [--seed 1]', {
    nodes: { type: 'string', default: '200' },
    ids: { type: 'string', default: '50' },
    providers: { type: 'string', default: '2' },
    lookups: { type: 'string', default: '500' },
    gone: { type: 'string', default: '0.3' },
    delay: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
})
const num = (k: keyof typeof values, min: number, max: number): number => {
  const v = Number(values[k])
  if (!Number.isFinite(v) || v < min || v > max) { console.error(`--${k} must be a number from ${min} to ${max}`); process.exit(2) }
  return v
}
const o = {
  nodes: num('nodes', 2, 5000), ids: num('ids', 1, 10_000), providersPerId: num('providers', 1, 20), lookups: num('lookups', 1, 100_000),
  goneShare: num('gone', 0, 0.9), delayMs: num('delay', 1, 1000), seed: num('seed', 0, 2 ** 31),
}
const t0 = process.hrtime.bigint()
const r = await runDhtSwarm(o)
const wall = Number(process.hrtime.bigint() - t0) / 1e9

const row = (what: string, f: LookupFigures) => {
  const pct = ((100 * f.found) / f.lookups).toFixed(1)
  const cells = [what.padEnd(28), `${f.found}/${f.lookups} (${pct} %)`.padStart(18), String(quantile(f.roundTrips, 0.5)).padStart(6),
    String(quantile(f.roundTrips, 0.9)).padStart(5), String(quantile(f.roundTrips, 0.99)).padStart(5), String(quantile(f.queries, 0.5)).padStart(9)]
  console.log(`| ${cells.join(' | ')} |`)
}
console.log(`${o.nodes} nodes, ${o.ids} ids x ${o.providersPerId} providers, ${o.lookups} lookups per phase, one-way delay ${o.delayMs} ms (RTT ${2 * o.delayMs} ms), seed ${o.seed}`)
console.log('round trips: virtual time until the first provider was known, over the RTT (a query timeout is 1 s = many RTTs)')
console.log('')
console.log(`| ${'phase'.padEnd(28)} | ${'found'.padStart(18)} | ${'median'.padStart(6)} | ${'p90'.padStart(5)} | ${'p99'.padStart(5)} | ${'queries'.padStart(9)} |`)
console.log(`|${'-'.repeat(30)}|${'-'.repeat(20)}|${'-'.repeat(8)}|${'-'.repeat(7)}|${'-'.repeat(7)}|${'-'.repeat(11)}|`)
row('all nodes up', r.healthy)
row(`${Math.round(o.goneShare * 100)} % of nodes gone`, r.degraded)
console.log('')
console.log(`routing table contacts per live node: median ${quantile(r.tableSizes, 0.5)}, min ${Math.min(...r.tableSizes)}, max ${Math.max(...r.tableSizes)}; ${r.datagrams} datagrams delivered; ${wall.toFixed(1)} s wall`)
