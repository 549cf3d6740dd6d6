// `npm run build` (also run by `prepare`, so a clone, `npm ci` and `npm pack` all get it): compiles
// src/ into dist/ and copies the browser scripts the player pages serve from beside their module.
import { cpSync, existsSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
let tsc
try {
  tsc = require.resolve('typescript/bin/tsc')
} catch {
  // `npm install -g .` from a fresh clone links the folder and runs `prepare` in it without
  // installing its dependencies: install them (the lockfile's, dev ones included, which builds us
  // through `prepare` again), so the linked command has its runtime dependencies too.
  if (existsSync('node_modules/typescript') || !existsSync('package-lock.json')) throw new Error('typescript is missing: run `npm install`')
  // In this folder, not into the global prefix the outer install is filling.
  const env = { ...process.env }
  for (const k of ['npm_config_global', 'npm_config_prefix', 'npm_config_location']) delete env[k]
  const npm = process.env.npm_execpath
  const args = ['ci', '--no-audit', '--no-fund']
  const r = npm ? spawnSync(process.execPath, [npm, ...args], { stdio: 'inherit', env }) : spawnSync('npm', args, { stdio: 'inherit', env })
  process.exit(r.status ?? 1)
}
rmSync('dist', { recursive: true, force: true })
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
if (r.status !== 0) process.exit(r.status ?? 1)
cpSync('src/player/static', 'dist/player/static', { recursive: true })
