// `npm run simulate`: scripts/simulate.ts run as the shipped code runs, bundled by esbuild with the
// options `npm run build` uses (scripts/build.js), instead of through tsx. tsx compiles with
// esbuild's keepNames, which wraps every named closure in a call that sets its name each time the
// closure is made (a datagram's reply queue, a send's flush): 5.7 % of the simulator's CPU in the
// profile of 300 viewers x 20 s, and a cost the shipped bundle does not have. Arguments pass through.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { NODE_BUNDLE } from './esbuild-options.js'

/** The young generation's semi-space, MiB. Thousands of nodes in one process keep every datagram
 * in flight for its link's delay, long enough to outlive V8's default young generation (16 MiB)
 * and be copied, then promoted, only to die: scavenges were the largest cost left at 1,000
 * viewers. With 64 MiB, 1,000 viewers x 10 s: 193 scavenges instead of 640, 10.0 s of scavenge
 * pauses instead of 13.2 s, a tenth less CPU and peak memory. */
const SEMI_SPACE_MB = 64

const esbuild = createRequire(import.meta.url)('esbuild')
// One level below the package root, as dist/ is: the package's version (src/util/package-version.ts,
// carried by the audience telemetry, so part of every datagram size) is found at ../package.json
// and external packages resolve from node_modules. Placed elsewhere, the version reads "unknown"
// and the same seed gives another report (a few bytes of telemetry per viewer). Git ignores it.
const out = fileURLToPath(new URL('../.simulate/simulate.mjs', import.meta.url))
await esbuild.build({ ...NODE_BUNDLE, entryPoints: [fileURLToPath(new URL('simulate.ts', import.meta.url))], outfile: out })
// A process of its own, for the V8 flag (it cannot change once the heap exists); flags given to
// this one (--cpu-prof, ...) go along.
const child = spawn(process.execPath, [...process.execArgv, `--max-semi-space-size=${SEMI_SPACE_MB}`, out, ...process.argv.slice(2)], { stdio: 'inherit' })
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
child.on('exit', (code, signal) => { process.exitCode = code ?? (signal ? 1 : 0) })
