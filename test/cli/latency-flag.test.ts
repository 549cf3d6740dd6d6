// `ingest --latency low` needs fMP4 parts: it picks fmp4 when --format is not given, and refuses
// an explicit --format ts with a one-line error before anything is created.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { ingestFormat } from '../../src/cli/stream.ts'
import { runCli, tempDir, loopbackFlags } from '../helpers/cli-process.ts'

test('--latency low picks fmp4 unless --format says otherwise', () => {
  assert.equal(ingestFormat({ format: 'ts', latency: 'low' }), 'fmp4')
  assert.equal(ingestFormat({ format: 'fmp4', formatGiven: true, latency: 'low' }), 'fmp4')
  assert.equal(ingestFormat({ format: 'ts', formatGiven: true, latency: 'low' }), 'ts')
  assert.equal(ingestFormat({ format: 'ts', latency: 'normal' }), 'ts')
  assert.equal(ingestFormat({ format: 'ts' }), 'ts')
})

test('ingest --latency low --format ts fails with one clear line; a bad mode is refused', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-latency-flag-')
  const ts = await runCli(['ingest', 'testsrc', '--latency', 'low', '--format', 'ts', ...loopbackFlags(join(dir, 'a'))])
  assert.notEqual(ts.code, 0)
  assert.match(ts.stderr, /--latency low needs --format fmp4/)
  const bad = await runCli(['ingest', 'testsrc', '--latency', 'fast', ...loopbackFlags(join(dir, 'b'))])
  assert.notEqual(bad.code, 0)
  assert.match(bad.stderr, /Allowed choices are low, normal/)
})
