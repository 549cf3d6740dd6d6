// Runs the test files given, in the order given, two at a time, each in its own process with this
// process's flags (scripts/run-tests.js starts it with --import tsx, so the files run from source).
// `node --test` would sort them by path; run() keeps the order. The report is what `node --test`
// prints: TAP when the output is not a terminal (CI's log), spec on one.
import { run } from 'node:test'
import { spec, tap } from 'node:test/reporters'
import { resolve } from 'node:path'

// A file's whole run may take 10 minutes (on Node 24, each test in it: see below): the virtual-time
// swarm files (test/sim/audience.test.ts, some 4 minutes alone) ran past 4 on a busy 2-core
// machine, though every test in them passed. CJP2P_TEST_FILE_TIMEOUT_MS is for
// test/scripts/run-test-files.test.ts, which times a file out.
const FILE_TIMEOUT_MS = Number(process.env.CJP2P_TEST_FILE_TIMEOUT_MS) || 600_000

const files = process.argv.slice(2)
// Node 20 and 22 time out a file's whole run, and kill it. Node 24 passes the timeout to each test in
// the file instead, and a test that timed out with a socket or timer still open kept its file's
// process alive for good (CI's unit run on Node 24 hung): there, forceExit ends a file's process
// once its tests have ended. Not on 20 and 22, where a file that leaves a timer or socket open
// still times out, which is how CI finds it.
const PER_TEST_TIMEOUT = Number(process.versions.node.split('.')[0]) >= 23
const stream = run({ files, concurrency: 2, timeout: FILE_TIMEOUT_MS, forceExit: PER_TEST_TIMEOUT })
// A failing todo test is reported, and fails nothing (as with `node --test`).
stream.on('test:fail', ({ todo }) => { if (todo === undefined || todo === false) process.exitCode = 1 })

// A file that times out is reported only as "test timed out after ...": which of its tests hung is
// what one needs, so the tests each file started and has not finished are kept, and named then.
/** @type {Map<string, { key: string, name: string, nesting: number }[]>} */
const running = new Map()
const key = (d) => `${d.line}:${d.column}:${d.nesting}:${d.name}`
const isFileTest = (d) => d.file !== undefined && resolve(d.name) === resolve(d.file)
stream.on('test:dequeue', (d) => {
  if (d.file === undefined || isFileTest(d)) return
  const list = running.get(d.file) ?? []
  running.set(d.file, [...list, { key: key(d), name: d.name, nesting: d.nesting }])
})
stream.on('test:complete', (d) => {
  if (d.file === undefined) return
  const timedOut = d.details?.error?.failureType === 'testTimeoutFailure'
  if (isFileTest(d)) {
    if (timedOut) process.stderr.write(unfinishedReport(d.file, running.get(d.file) ?? []))
    running.delete(d.file)
    return
  }
  const list = running.get(d.file)
  const i = list?.findIndex((t) => t.key === key(d)) ?? -1
  // Node 24 times out the test itself: named the same way, with its groups and what runs in it.
  if (timedOut && i >= 0) process.stderr.write(unfinishedReport(d.file, lineage(list, i), 'a test in '))
  if (i >= 0) list.splice(i, 1)
})
stream.compose(process.stdout.isTTY ? spec : tap).pipe(process.stdout)

/** list[i], the unfinished tests it runs in (going back, each nested less deeply than the last) and
 * those running in it (right after it, nested more deeply). */
function lineage(list, i) {
  const chain = [list[i]]
  for (let j = i - 1; j >= 0 && chain[0].nesting > 0; j--) if (list[j].nesting < chain[0].nesting) chain.unshift(list[j])
  for (let j = i + 1; j < list.length && list[j].nesting > list[i].nesting; j++) chain.push(list[j])
  return chain
}

/** The innermost unfinished tests, each with its unfinished ancestors ("group > test"), in start order. */
function unfinishedReport(file, list, what = '') {
  const paths = []
  const stack = []
  list.forEach((t, i) => {
    stack.length = t.nesting
    stack.push(t.name)
    if (i + 1 === list.length || list[i + 1].nesting <= t.nesting) paths.push(stack.join(' > '))
  })
  const names = paths.length > 0 ? paths.map((p) => `\n  - ${p}`).join('') : ' (none had started)'
  return `\n${what}${file} timed out after ${FILE_TIMEOUT_MS} ms; its tests not finished then:${names}\n\n`
}
