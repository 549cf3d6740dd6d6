import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { BenchArgError } from '../../scripts/bench-args.ts'
import { USAGE, parseSimulateArgs } from '../../scripts/simulate-args.ts'

const script = fileURLToPath(new URL('../../scripts/simulate.ts', import.meta.url))
const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { encoding: 'utf8', timeout: 60_000 })

test('parseSimulateArgs: flags with their defaults, and every bad command line a BenchArgError naming what was wrong', () => {
  const v = parseSimulateArgs(['--viewers', '300', '--json-codec', '--scenario', 'loss1', '--scenario', 'flash'])
  assert.equal(v.viewers, '300')
  assert.equal(v.seconds, '60')
  assert.equal(v['json-codec'], true)
  assert.deepEqual(v.scenario, ['loss1', 'flash'])
  assert.equal(parseSimulateArgs(['-h']).help, true)
  for (const [argv, named] of [[['--bogus'], "'--bogus'"], [['--viewers'], "'--viewers <value>'"], [['300'], "'300'"], [['--json-codec=yes'], "'--json-codec'"]] as const) {
    assert.throws(() => parseSimulateArgs([...argv]), (err: unknown) => err instanceof BenchArgError && err.message.includes(named) && !err.message.includes('\n'), argv.join(' '))
  }
})

test('npm run simulate: --help prints the usage and exits 0; an unknown flag is one line naming it, exit 2', () => {
  const help = run('--help')
  assert.equal(help.status, 0, help.stderr)
  assert.equal(help.stdout, USAGE + '\n')
  assert.equal(help.stderr, '')
  const bad = run('--viewers', '10', '--bogus-flag')
  assert.equal(bad.status, 2, bad.stderr)
  assert.equal(bad.stdout, '')
  assert.equal(bad.stderr, "simulate: Unknown option '--bogus-flag' (--help lists the flags)\n")
})
