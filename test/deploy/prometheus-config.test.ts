import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const PROMTOOL = '/usr/bin/promtool'
const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url))
const skip = existsSync(PROMTOOL) ? false : `SKIPPED LOUDLY: ${PROMTOOL} missing, Prometheus files not checked`
if (skip) console.warn(`\n*** ${skip} ***\n`)

function promtool(...args: string[]): string {
  const r = spawnSync(PROMTOOL, args, { cwd: DIR, encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, `promtool ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`)
  return r.stdout + r.stderr
}

test('promtool check config accepts prometheus.yml (rules and file_sd targets included)', { skip }, () => {
  assert.match(promtool('check', 'config', 'prometheus.yml'), /SUCCESS/)
})

test('promtool check rules accepts rules.yml', { skip }, () => {
  assert.match(promtool('check', 'rules', 'rules.yml'), /SUCCESS: \d+ rules found/)
})

test('promtool test rules: copies, offload and delay rules compute, alerts fire and stay quiet', { skip }, () => {
  assert.match(promtool('test', 'rules', 'rules.test.yml'), /SUCCESS/)
})

test('targets.json lists loopback targets only', () => {
  const groups: unknown = JSON.parse(readFileSync(DIR + 'targets.json', 'utf8'))
  assert.ok(Array.isArray(groups) && groups.length > 0)
  for (const g of groups as Array<{ targets: string[] }>) {
    for (const t of g.targets) assert.match(t, /^127\.0\.0\.1:\d+$/)
  }
})

test('rules.yml defines the recording rules and alerts the dashboard and operators rely on', () => {
  const rules = readFileSync(DIR + 'rules.yml', 'utf8')
  for (const name of [
    'record: cjp2p:source_copies_uploaded:ratio', 'record: cjp2p:source_copies_uploaded_since_start:ratio',
    'record: cjp2p:p2p_offload:ratio', 'record: cjp2p:chunk_delay_seconds:p50', 'record: cjp2p:chunk_delay_seconds:p95',
    'record: cjp2p:chunk_delay_seconds:p99', 'alert: Cjp2pSourceUploadsTooManyCopies', 'alert: Cjp2pPlaybackStalling',
  ]) assert.ok(rules.includes(name), `missing ${name}`)
})
