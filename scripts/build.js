// `npm run build` (also run by `prepare`, so a clone, `npm ci` and `npm pack` all get it): bundles
// src/ into dist/ with esbuild and copies the browser scripts the player pages serve beside it.
// One bundle (plus a chunk per lazily imported command and the HTTP side), not one file per module:
// resolving and compiling about 190 modules was most of a `get`'s start-up (issue 10: 0.83 s
// against 0.68 s for a short `get`, measured side by side). Type checking is `npm run typecheck`'s.
import { cpSync, existsSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { NODE_BUNDLE } from './esbuild-options.js'

const require = createRequire(import.meta.url)
let esbuild
try {
  esbuild = require('esbuild')
} catch {
  // `npm install -g .` from a fresh clone links the folder and runs `prepare` in it without
  // installing its dependencies: install them (the lockfile's, dev ones included, which builds us
  // through `prepare` again), so the linked command has its runtime dependencies too.
  if (existsSync('node_modules/esbuild') || !existsSync('package-lock.json')) throw new Error('esbuild is missing: run `npm install`')
  // In this folder, not into the global prefix the outer install is filling.
  const env = { ...process.env }
  for (const k of ['npm_config_global', 'npm_config_prefix', 'npm_config_location']) delete env[k]
  const npm = process.env.npm_execpath
  const args = ['ci', '--no-audit', '--no-fund']
  const r = npm ? spawnSync(process.execPath, [npm, ...args], { stdio: 'inherit', env }) : spawnSync('npm', args, { stdio: 'inherit', env })
  process.exit(r.status ?? 1)
}
rmSync('dist', { recursive: true, force: true })
// `splitting` keeps the lazy imports lazy (prom-client and express load only when HTTP is served).
await esbuild.build({ ...NODE_BUNDLE, entryPoints: ['src/main.ts'], outdir: 'dist', splitting: true })
// Every output sits directly in dist/, so the pages' scripts go to dist/static (see routes-pages.ts).
cpSync('src/player/static', 'dist/static', { recursive: true })
