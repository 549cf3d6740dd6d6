// What `cjp2p-stream --help` loads: the static imports reachable from src/main.ts (commands are
// imported lazily, when they run). A module that drags in the node, the store's hashing or express
// here costs every invocation start-up time and memory (npm run bench:startup measures it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { REPO } from '../helpers/cli-process.ts'

/** Static value imports of one file (type-only imports and dynamic import() are not loaded up front). */
function staticImports(file: string): string[] {
  const src = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of src.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'"]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) out.push(m[1])
  return out
}

/** Every module and package `entry` loads up front (static imports, followed). */
function loadedBy(entry: string): { seen: Set<string>; packages: Set<string> } {
  const seen = new Set<string>()
  const packages = new Set<string>()
  const walk = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    for (const spec of staticImports(file)) {
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec))
      else if (!spec.startsWith('node:')) packages.add(spec)
    }
  }
  walk(entry)
  return { seen, packages }
}

test('--help loads commander and a few small modules, nothing of the node, store or player', () => {
  const { seen, packages } = loadedBy(join(REPO, 'src', 'main.ts'))
  const modules = [...seen].map((f) => relative(REPO, f)).sort()
  assert.deepEqual([...packages], ['commander'], 'the only package loaded at start-up')
  for (const heavy of [/^src\/runtime\.ts$/, /^src\/mesh\/(?!default-ports\.ts|nat\/punch-limits\.ts|nat\/gateway-mapper\.ts)/, /^src\/(ingest|player|metrics)\//, /^src\/store\/(hashes|keys|stream-log|file-store)\.ts$/]) {
    const hit = modules.find((m) => heavy.test(m))
    assert.equal(hit, undefined, `--help loads ${hit}:\n${modules.join('\n')}`)
  }
  // 16 since --port-mapping-protocols checks its names against src/mesh/nat/gateway-mapper.ts (constants only).
  assert.ok(modules.length <= 16, `${modules.length} modules at start-up:\n${modules.join('\n')}`)
})

test('`get` (a node that serves no HTTP) loads neither express nor prom-client', () => {
  // Each cost a `get` of any size tens to hundreds of ms of start-up (bench:files, built CLI row).
  const { packages } = loadedBy(join(REPO, 'src', 'cli', 'files.ts'))
  for (const heavy of ['express', 'prom-client']) assert.ok(!packages.has(heavy), `get loads ${heavy}: ${[...packages].join(', ')}`)
})
