// `npm run build` (also run by `prepare`, so a clone, `npm ci` and `npm pack` all get it): compiles
// src/ into dist/ and copies the browser scripts the player pages serve from beside their module.
import { cpSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'

rmSync('dist', { recursive: true, force: true })
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
if (r.status !== 0) process.exit(r.status ?? 1)
cpSync('src/player/static', 'dist/player/static', { recursive: true })
