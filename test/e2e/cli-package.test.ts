// The package as users get it: `npm pack` (whose `prepare` builds dist/) ships what the README and
// `bin` need and no sources or tests; the tarball installs globally into a fresh prefix with no dev
// dependencies (tarballs from npm's local cache where it has them) and runs `--help` and `share`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { BIN, REPO, tempDir } from '../helpers/cli-process.ts'

const run = promisify(execFile)
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

test('npm pack ships dist/, docs/, deploy/ and bin/; the tarball installs and runs without dev dependencies', { timeout: 300_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-pack-')
  const packed = await run(NPM, ['pack', '--json', '--pack-destination', dir], { cwd: REPO, maxBuffer: 16 << 20 })
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = info.files.map((f) => f.path)
  for (const want of ['bin/cjp2p-stream', 'dist/main.js', 'dist/static/player.js', 'README.md', 'package.json']) {
    assert.ok(files.includes(want), `the tarball has ${want}`)
  }
  for (const prefix of ['docs/', 'deploy/']) assert.ok(files.some((f) => f.startsWith(prefix)), `the tarball has ${prefix}`)
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/')), 'no sources, tests or scripts')

  // The repository's own bin runs what `prepare` just built.
  const help = await run(process.execPath, [BIN, '--help'])
  assert.match(help.stdout, /Usage: cjp2p-stream/)

  const prefix = join(dir, 'prefix')
  await run(NPM, ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', join(dir, info.filename)],
    { cwd: dir, maxBuffer: 16 << 20, env: { ...process.env, npm_config_update_notifier: 'false' } })
  const installed = join(prefix, 'lib', 'node_modules', 'cjp2p-stream')
  for (const dev of ['tsx', 'typescript', 'eslint']) assert.ok(!existsSync(join(installed, 'node_modules', dev)), `no ${dev} installed`)
  const cmd = join(prefix, 'bin', 'cjp2p-stream')
  const h = await run(cmd, ['--help'], { cwd: dir })
  assert.match(h.stdout, /Usage: cjp2p-stream/)
  const file = join(dir, 'hello.txt')
  await writeFile(file, 'hello from the installed package\n')
  const shared = await run(cmd, ['share', file, '--dir', join(dir, 'data')], { cwd: dir })
  assert.equal(shared.stdout.split('\n')[0], createHash('sha256').update('hello from the installed package\n').digest('hex'))
})
