// The package as users get it: `npm pack` (whose `prepare` builds dist/) ships what the README and
// `bin` need and no sources or tests; the tarball installs globally into a fresh prefix with no dev
// dependencies (tarballs from npm's local cache where it has them) and runs `--help` and `share`.
//
// The pack runs in a copy of the repository: `prepare` deletes and rebuilds dist/, and the e2e files
// running beside this one start bin/cjp2p-stream (which runs dist/) all the while.
// npm ignores --omit for a global install of a tarball (npm/cli#8284), so the optional dependencies
// install as a user gets them. better-sqlite3's install script looks for a prebuilt binary before
// compiling; a user's npm downloads it, this machine has no network for it, and compiling SQLite was
// most of this test (~100 s of CPU). It is given the binary `npm ci` built for this Node as a local
// prebuild (the file name prebuild-install asks for), and compiles as before when there is none.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdir, readdir, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { REPO, tempDir } from '../helpers/cli-process.ts'

const run = promisify(execFile)
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** Left out of the copy: dist/ (the build's output), node_modules (linked instead), .git, and the
 * local output folders .gitignore names. */
const NOT_COPIED = new Set(['.git', 'node_modules', 'dist', 'artifacts', 'shared', '.cjp2p', '.simulate'])

/** The repository beside a link to its node_modules (the build's esbuild), so `npm pack` builds
 * and packs there. */
async function repoCopy(dir: string): Promise<string> {
  const copy = join(dir, 'repo')
  await mkdir(copy)
  for (const e of await readdir(REPO)) {
    if (NOT_COPIED.has(e) || e.endsWith('.log')) continue
    await cp(join(REPO, e), join(copy, e), { recursive: true, verbatimSymlinks: true })
  }
  await symlink(join(REPO, 'node_modules'), join(copy, 'node_modules'), 'dir')
  return copy
}

/** A folder holding better-sqlite3's binary under the name prebuild-install looks for, or null
 * when `npm ci` built none (an optional dependency: the install then compiles it). */
async function betterSqlitePrebuilds(dir: string): Promise<string | null> {
  const pkg = join(REPO, 'node_modules', 'better-sqlite3')
  if (!existsSync(join(pkg, 'build', 'Release', 'better_sqlite3.node')) || process.platform !== 'linux') return null
  const { version } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as { version: string }
  // glibc only: on musl prebuild-install adds the libc to the name, and then compiles as before.
  const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`
  const out = join(dir, 'prebuilds')
  await mkdir(out)
  await run('tar', ['-czf', join(out, name), '-C', pkg, 'build/Release/better_sqlite3.node'])
  return out
}

test('npm pack ships dist/, docs/, deploy/ and bin/; the tarball installs and runs without dev dependencies', { timeout: 300_000 }, async (t) => {
  const dir = await tempDir(t, 'cjp2p-pack-')
  const repo = await repoCopy(dir)
  const packed = await run(NPM, ['pack', '--json', '--pack-destination', dir], { cwd: repo, maxBuffer: 16 << 20 })
  const [info] = JSON.parse(packed.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
  const files = info.files.map((f) => f.path)
  for (const want of ['bin/cjp2p-stream', 'dist/main.js', 'dist/static/player.js', 'README.md', 'package.json']) {
    assert.ok(files.includes(want), `the tarball has ${want}`)
  }
  for (const prefix of ['docs/', 'deploy/']) assert.ok(files.some((f) => f.startsWith(prefix)), `the tarball has ${prefix}`)
  assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('scripts/')), 'no sources, tests or scripts')

  // The copy's own bin runs what `prepare` just built.
  const help = await run(process.execPath, [join(repo, 'bin', 'cjp2p-stream'), '--help'])
  assert.match(help.stdout, /Usage: cjp2p-stream/)

  const prefix = join(dir, 'prefix')
  const prebuilds = await betterSqlitePrebuilds(dir)
  const env: Record<string, string | undefined> = { ...process.env, npm_config_update_notifier: 'false' }
  if (prebuilds) env.npm_config_better_sqlite3_local_prebuilds = prebuilds
  await run(NPM, ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', join(dir, info.filename)],
    { cwd: dir, maxBuffer: 16 << 20, env })
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
