// `npm run simulate`: scripts/simulate.ts run as the shipped code runs, bundled by esbuild with the
// options `npm run build` uses (scripts/build.js), instead of through tsx. tsx compiles with
// esbuild's keepNames, which wraps every named closure in a call that sets its name each time the
// closure is made (a datagram's reply queue, a send's flush): 5.7 % of the simulator's CPU in the
// profile of 300 viewers x 20 s, and a cost the shipped bundle does not have. Arguments pass through.
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { NODE_BUNDLE } from './esbuild-options.js'

const esbuild = createRequire(import.meta.url)('esbuild')
// One level below the package root, as dist/ is: the package's version (src/util/package-version.ts,
// carried by the audience telemetry, so part of every datagram size) is found at ../package.json
// and external packages resolve from node_modules. Placed elsewhere, the version reads "unknown"
// and the same seed gives another report (a few bytes of telemetry per viewer). Git ignores it.
const out = fileURLToPath(new URL('../.simulate/simulate.mjs', import.meta.url))
await esbuild.build({ ...NODE_BUNDLE, entryPoints: [fileURLToPath(new URL('simulate.ts', import.meta.url))], outfile: out })
await import(pathToFileURL(out).href)
