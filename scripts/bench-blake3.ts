// BLAKE3 tree benchmark: builds the tree-v2 tree of 64 MiB of random bytes, in memory and from a
// file, checks it, and prints MiB/s beside the whole-content hash speeds of hash-wasm and
// @noble/hashes for comparison (these give the root only, not the tree).
//   npm run bench:blake3 [-- --mib 64]
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { numberFlag, orExitUsage, scriptFlags } from './script-args.ts'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'
import { blake3 } from '../src/store/hashes.ts'
import { buildTree, buildTreeOfFile } from '../src/store/blake3/tree-builder.ts'
import { parseTree } from '../src/store/blake3/tree.ts'

const MIB = 1024 * 1024
const flags = scriptFlags('bench:blake3', 'npm run bench:blake3 [-- --mib 64]', { mib: { type: 'string' } })
const sizeMiB = orExitUsage('bench:blake3', () => numberFlag('mib', flags.mib, 64, 1, 4096, true))
const content = randomBytes(sizeMiB * MIB)

async function time(what: string, mib: number, run: () => unknown | Promise<unknown>): Promise<void> {
  await run() // warm-up: JIT and caches
  const runs = 3
  let best = Infinity
  let bestCpu = Infinity
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint()
    const c0 = process.cpuUsage()
    await run()
    const cpu = process.cpuUsage(c0)
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9)
    bestCpu = Math.min(bestCpu, (cpu.user + cpu.system) / 1e6)
  }
  const cells = [what.padEnd(46), mib.toFixed(0).padStart(5), (best * 1000).toFixed(0).padStart(7), (mib / best).toFixed(0).padStart(6), (mib / bestCpu).toFixed(0).padStart(10)]
  console.log(`| ${cells.join(' | ')} |`)
}

const dir = await mkdtemp(join(tmpdir(), 'bench-blake3-'))
try {
  const path = join(dir, 'content')
  await writeFile(path, content)
  const tree = buildTree(content)
  if (Buffer.compare(tree.root, blake3(content)) !== 0) throw new Error('tree root differs from the BLAKE3 hash')
  console.log(`BLAKE3 tree-v2 of ${sizeMiB} MiB (${tree.leafCount} leaves, tree ${tree.bytes.length} bytes), best of 3 runs after a warm-up, Node ${process.version}`)
  console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores: wall-clock figures suffer on a busy machine, per-CPU-second figures less`)
  console.log('| what                                           |   MiB | wall ms | MiB/s  | MiB/CPU-s  |')
  console.log('|------------------------------------------------|-------|---------|--------|------------|')
  await time('build tree in memory (this module)', sizeMiB, () => buildTree(content))
  await time('build tree from file, 1 MiB reads', sizeMiB, () => buildTreeOfFile(path))
  await time('check the tree against its root (parseTree)', sizeMiB, () => { if (!parseTree(tree.bytes, tree.root).ok) throw new Error('tree check failed') })
  await time('verify every 4 KiB block (verifyBlock)', sizeMiB, () => {
    for (let i = 0; i < tree.leafCount; i++) if (tree.verifyBlock(i, content.subarray(i * 4096, (i + 1) * 4096)) !== 'ok') throw new Error(`block ${i}`)
  })
  await time('whole hash, hash-wasm (root only)', sizeMiB, () => blake3(content))
  const nobleMiB = Math.min(sizeMiB, 16)
  await time(`whole hash, @noble/hashes (root only, ${nobleMiB} MiB)`, nobleMiB, () => nobleBlake3(content.subarray(0, nobleMiB * MIB)))
} finally {
  await rm(dir, { recursive: true, force: true })
}
