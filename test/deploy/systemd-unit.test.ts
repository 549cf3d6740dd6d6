// The example systemd unit starts the command with flags the command has: every `--flag` in its
// ExecStart is one `cjp2p-stream node --help` lists.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { REPO, runCli } from '../helpers/cli-process.ts'

test('the systemd unit uses only flags `node --help` lists', { timeout: 60_000 }, async () => {
  const unit = readFileSync(join(REPO, 'deploy', 'cjp2p-stream.service'), 'utf8')
  // ExecStart and its continuation lines (each ending in a backslash).
  const exec = /^ExecStart=(?:[^\n\\]|\\\n|\\(?!\n))*/m.exec(unit)![0].replace(/\\\n/g, ' ')
  assert.match(exec, /cjp2p-stream node /)
  const flags = exec.match(/--[a-z][a-z-]*/g) ?? []
  assert.ok(flags.length >= 3, exec)
  const help = await runCli(['node', '--help'])
  assert.equal(help.code, 0, help.stderr)
  for (const f of flags) assert.match(help.stdout, new RegExp(`^\\s+${f}\\b`, 'm'), `${f} is a flag of cjp2p-stream node`)
})
