// `npm run chaos`: runs every fault scenario against a live swarm of real processes and prints the
// table (scenario, injection, recovery time, bytes lost, unverified bytes served, amplification).
// Exits 1 when a scenario lost bytes, served an unverified byte, or never recovered.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { formatTable, runChaos } from './chaos-scenarios.ts'
import { scriptFlags } from './script-args.ts'

scriptFlags('chaos', 'npm run chaos   (no flags: runs every fault scenario against a live swarm of real processes; exits 1 when one lost bytes, served an unverified byte or never recovered)', {})

const dir = await mkdtemp(join(tmpdir(), 'cjp2p-chaos-'))
let failed: boolean
try {
  const t0 = Date.now()
  const rows = await runChaos(dir, (s) => console.error(`chaos: ${s}`))
  console.log(formatTable(rows))
  console.log(`\n${rows.length} scenarios in ${((Date.now() - t0) / 1000).toFixed(0)} s`)
  failed = rows.some((r) => r.bytesLost > 0 || r.unverifiedServed > 0 || (r.recoveryMs === null && !/skipped/.test(r.message)))
} finally {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 })
}
process.exit(failed ? 1 : 0)
