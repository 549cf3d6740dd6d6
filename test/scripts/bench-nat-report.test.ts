// What `npm run bench:nat` prints about the machine it ran on, and its --stagger flag: a lab run's
// figures mean something only beside the load it started and ended at, and the viewers' CPU split
// between the node's own work and the kernel carrying its datagrams through the lab's veths and NATs.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { natTable, type NatFigures } from '../../scripts/bench-nat-report.ts'

const REPO = resolve(import.meta.dirname, '../..')

function figures(over: Partial<NatFigures> = {}): NatFigures {
  return {
    scenario: 'test', seconds: 45, bitrate: '1000k', streamBytes: 5_000_000, sourceUploadedBytes: 6_000_000, sourceCopies: 1.2,
    viewers: [{ host: 'cone1h1', nat: 'cone', router: 'cone1', mapped: false, due: 10, played: 10, missing: [], fromSourceBytes: 5_000_000, fromPeersBytes: 0, relayedBytes: 0, fedPeers: 0, fedWhere: [], punched: 0, punches: 0, reported: true, entry: false }],
    cpuShareOfCorePerViewer: 0.05, medianChunkDelayMs: 200, duplicateBytes: 0, duplicateBy: {}, uploadedBy: {}, sourceUploadedBy: {},
    loadAverage: 30, dropped: {}, secure: null, ...over,
  }
}

test('the report gives the viewers\' CPU per minute of stream with the kernel\'s part, and the load at the start and at the report', () => {
  const table = natTable(figures({ cpuKernelShareOfCorePerViewer: 0.4 / 60, loadAtStart: 12.25 }))
  assert.match(table, /\| CPU seconds per viewer per minute of stream: all \/ the kernel's part \| 3\.00 \/ 0\.40 s \|/)
  assert.match(table, /\| machine load at the start \/ at the report \| 12\.3 \/ 30\.0 \|/)
  // Figures built without them (the e2e tests' own) print neither line.
  const bare = natTable(figures())
  assert.doesNotMatch(bare, /kernel's part|load at the start/)
})

test('bench:nat takes --stagger in milliseconds and refuses one outside 0-10000 before building a lab', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench-nat.ts', '--stagger', '20000'], { cwd: REPO, timeout: 60_000, killSignal: 'SIGKILL' })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d })
  const status = await new Promise<number | null>((done) => child.once('close', done))
  assert.equal(status, 2, stderr)
  assert.match(stderr, /--stagger must be an integer from 0 to 10000/)
})
