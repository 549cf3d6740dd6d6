// Runs the test files given, in the order given, two at a time, each in its own process with this
// process's flags (scripts/run-tests.js starts it with --import tsx, so the files run from source).
// `node --test` would sort them by path; run() keeps the order. The report is what `node --test`
// prints: TAP when the output is not a terminal (CI's log), spec on one.
import { run } from 'node:test'
import { spec, tap } from 'node:test/reporters'

// A file's whole run may take 10 minutes: the virtual-time swarm files (test/sim/audience.test.ts,
// some 4 minutes alone) ran past 4 on a busy 2-core machine, though every test in them passed.
const FILE_TIMEOUT_MS = 600_000

const files = process.argv.slice(2)
const stream = run({ files, concurrency: 2, timeout: FILE_TIMEOUT_MS })
// A failing todo test is reported, and fails nothing (as with `node --test`).
stream.on('test:fail', ({ todo }) => { if (todo === undefined || todo === false) process.exitCode = 1 })
stream.compose(process.stdout.isTTY ? spec : tap).pipe(process.stdout)
