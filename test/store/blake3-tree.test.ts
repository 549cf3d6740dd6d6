import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { blake3 as nobleBlake3 } from '@noble/hashes/blake3.js'
import { blake3 } from '../../src/store/hashes.ts'
import { isStoreError } from '../../src/store/errors.ts'
import { leafCv, parentCv, rootFromPair } from '../../src/store/blake3/chaining-values.ts'
import { blake3Id, blake3TreeId, parseBlake3Id, parseBlake3TreeId } from '../../src/store/blake3/ids.ts'
import {
  MAX_TREE_LEAVES, TREE_BLOCK_BYTES, leafCountForTreeBytes, parseTree, parseTreeForId, treeBytesForLeaves,
} from '../../src/store/blake3/tree.ts'
import type { Blake3Tree } from '../../src/store/blake3/tree.ts'
import { Blake3TreeBuilder, buildTree, buildTreeOfFile } from '../../src/store/blake3/tree-builder.ts'
import { loadTree, saveTree } from '../../src/store/blake3/tree-file.ts'

const LEAF = 4096
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** The test vectors' input: the repeating sequence 0, 1, ..., 250. */
function vectorInput(len: number): Buffer {
  const b = Buffer.alloc(len)
  for (let i = 0; i < len; i++) b[i] = i % 251
  return b
}

function randomish(len: number, seed: number): Buffer {
  const b = Buffer.alloc(len)
  let x = seed >>> 0 || 1
  for (let i = 0; i < len; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

/** Every block of the content passes, and the tree's own bytes pass a fresh check. */
function assertSound(tree: Blake3Tree, content: Uint8Array, what: string): void {
  assert.equal(tree.leafCount, Math.ceil(content.length / LEAF), what)
  assert.equal(tree.bytes.length, treeBytesForLeaves(tree.leafCount), what)
  for (let i = 0; i < tree.leafCount; i++) {
    assert.equal(tree.verifyBlock(i, content.subarray(i * LEAF, (i + 1) * LEAF)), 'ok', `${what}: block ${i}`)
  }
  const parsed = parseTree(tree.bytes, tree.root, { contentSize: content.length })
  assert.ok(parsed.ok, `${what}: ${parsed.ok ? '' : parsed.error}`)
  assert.equal(hex(parsed.tree.bytes), hex(tree.bytes), what)
}

test('the reference format\'s published tree-v2 vectors: leaf count, length, root and the whole tree file', () => {
  const vectors = JSON.parse(readFileSync(new URL('./fixtures/blake3-tree-v2-vectors.json', import.meta.url), 'utf8')) as {
    cases: { len: number; leaves: number; treeBytes: number; root: string; treeBlake3: string }[]
    threeLeafTree: string[]
  }
  assert.equal(vectors.cases.length, 8)
  const content = (len: number) => {
    const b = Buffer.alloc(len)
    for (let i = 0; i < len; i++) b[i] = (i * 31 + 7) & 0xff
    return b
  }
  for (const v of vectors.cases) {
    const tree = buildTree(content(v.len))
    assert.equal(tree.leafCount, v.leaves, `len ${v.len}`)
    assert.equal(tree.bytes.length, v.treeBytes, `len ${v.len}`)
    assert.equal(hex(tree.root), v.root, `len ${v.len}`)
    assert.equal(blake3(tree.bytes).toString('hex'), v.treeBlake3, `len ${v.len}: the whole tree file`)
    assert.equal(parseTreeForId(Buffer.from(tree.bytes), `blake3_tree_v2/${v.root}`, { contentSize: v.len }).ok, true)
  }
  assert.equal(hex(buildTree(content(12288)).bytes), vectors.threeLeafTree.join(''))
})

test('official BLAKE3 test vectors: the tree root is the published hash, fed whole or in odd pieces', () => {
  const vectors = JSON.parse(readFileSync(new URL('./fixtures/blake3-test-vectors.json', import.meta.url), 'utf8')) as { cases: { input_len: number; hash: string }[] }
  assert.ok(vectors.cases.length >= 30)
  for (const { input_len: len, hash } of vectors.cases) {
    const input = vectorInput(len)
    const tree = buildTree(input)
    assert.equal(hex(tree.root), hash, `input_len ${len}`)
    assert.equal(tree.id, `blake3/${hash}`)
    assertSound(tree, input, `input_len ${len}`)
    const pieces = new Blake3TreeBuilder()
    for (let off = 0; off < len; off += 1000) pieces.update(input.subarray(off, off + 1000))
    assert.equal(hex(pieces.finish().bytes), hex(tree.bytes), `input_len ${len} in 1000-byte pieces`)
  }
})

test('the root equals hash-wasm and @noble/hashes on the edge sizes and on 2^k and 2^k +- 1 leaves', () => {
  const sizes = [0, 1, 1023, 1024, 1025, 4095, 4096, 4097, 8191, 8192, 8193, 3 * LEAF, 3 * LEAF - 1, 3 * LEAF + 1, 3 * 1024 * 1024 + 5]
  for (let k = 1; k <= 9; k++) {
    for (const leaves of [2 ** k - 1, 2 ** k, 2 ** k + 1]) sizes.push(leaves * LEAF, leaves * LEAF - 700)
  }
  for (const size of sizes) {
    const content = randomish(size, size + 7)
    const tree = buildTree(content)
    assert.equal(hex(tree.root), blake3(content).toString('hex'), `size ${size} vs hash-wasm`)
    if (size <= 1 << 20) assert.equal(hex(tree.root), hex(nobleBlake3(content)), `size ${size} vs noble`)
    assertSound(tree, content, `size ${size}`)
  }
})

test('property: any content, split anywhere, gives the full BLAKE3 hash as root and the same tree', () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 40 * LEAF }), fc.integer({ min: 1, max: 1 << 30 }), fc.array(fc.integer({ min: 1, max: 9000 }), { maxLength: 12 }),
    (size, seed, cuts) => {
      const content = randomish(size, seed)
      const whole = buildTree(content)
      assert.equal(hex(whole.root), hex(nobleBlake3(content)))
      assert.equal(hex(whole.root), blake3(content).toString('hex'))
      const builder = new Blake3TreeBuilder(seed % 2 === 0 ? { size } : {})
      let off = 0
      for (const cut of cuts) { builder.update(content.subarray(off, off + cut)); off = Math.min(size, off + cut) }
      builder.update(content.subarray(off))
      assert.equal(hex(builder.finish().bytes), hex(whole.bytes))
    },
  ), { numRuns: 150 })
})

test('layout is the tree-v2 format: header, levels top-first with odd entries passed up, leaves last', () => {
  const leavesOf = (content: Buffer, n: number) => Array.from({ length: n }, (_, i) => {
    const out = new Uint8Array(32)
    leafCv(content, i * LEAF, Math.min(LEAF, content.length - i * LEAF), i, out, 0)
    return out
  })
  const merge = (a: Uint8Array, b: Uint8Array, root = false) => {
    const out = new Uint8Array(32)
    ;(root ? rootFromPair : parentCv)(Buffer.concat([a, b]), 0, out, 0)
    return out
  }
  const header = (root: Uint8Array) => Buffer.concat([Buffer.from('B3T\x02', 'latin1'), Buffer.alloc(28), root])

  const three = randomish(2 * LEAF + 10, 3)
  const [a, b, c] = leavesOf(three, 3)
  const p01 = merge(a, b)
  const root3 = merge(p01, c, true)
  assert.equal(hex(root3), blake3(three).toString('hex'))
  assert.equal(hex(buildTree(three).bytes), hex(Buffer.concat([header(root3), p01, c, a, b, c])))

  const five = randomish(4 * LEAF + 1, 5)
  const l = leavesOf(five, 5)
  const q01 = merge(l[0], l[1])
  const q23 = merge(l[2], l[3])
  const q0123 = merge(q01, q23)
  const root5 = merge(q0123, l[4], true)
  assert.equal(hex(root5), blake3(five).toString('hex'))
  assert.equal(hex(buildTree(five).bytes), hex(Buffer.concat([header(root5), q0123, l[4], q01, q23, l[4], ...l])))

  const two = randomish(LEAF + 1, 2)
  const [x, y] = leavesOf(two, 2)
  assert.equal(hex(buildTree(two).bytes), hex(Buffer.concat([header(merge(x, y, true)), x, y])))

  const one = randomish(100, 1)
  assert.equal(hex(buildTree(one).bytes), hex(Buffer.concat([header(blake3(one)), leavesOf(one, 1)[0]])))
  assert.equal(hex(buildTree(Buffer.alloc(0)).bytes), hex(header(blake3(Buffer.alloc(0)))))
})

test('tree length follows the reference formula and gives the leaf count back', () => {
  // The reference's size rule, restated: 4 + 32 per leaf + 32 per entry of every level above while
  // the level below has more than two entries, plus 60.
  const referenceSize = (n: number) => {
    let total = 4 + n * 32
    for (let m = n; m > 2;) { m = Math.floor((m + 1) / 2); total += m * 32 }
    return 60 + total
  }
  for (let n = 0; n <= 5000; n++) {
    assert.equal(treeBytesForLeaves(n), referenceSize(n), `n=${n}`)
    assert.equal(leafCountForTreeBytes(referenceSize(n)), n)
    if (referenceSize(n) + 32 !== referenceSize(n + 1)) assert.equal(leafCountForTreeBytes(referenceSize(n) + 32), null)
  }
  for (const bad of [-1, 0, 63, 65, 95, 1.5, NaN, Infinity, 2 ** 60]) assert.equal(leafCountForTreeBytes(bad), null, String(bad))
})

test('a flipped byte fails exactly the block it is in', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 20 * LEAF }), fc.integer({ min: 1, max: 1 << 30 }), fc.nat(), fc.integer({ min: 1, max: 255 }),
    (size, seed, at, flip) => {
      const content = randomish(size, seed)
      const tree = buildTree(content)
      const pos = at % size
      const bad = Buffer.from(content)
      bad[pos] ^= flip
      for (let i = 0; i < tree.leafCount; i++) {
        const block = bad.subarray(i * LEAF, (i + 1) * LEAF)
        assert.equal(tree.verifyBlock(i, block), i === Math.floor(pos / LEAF) ? 'mismatch' : 'ok', `block ${i}, flipped ${pos}`)
      }
    },
  ), { numRuns: 100 })
})

test('blocks of the wrong length, index or position are refused', () => {
  const content = randomish(3 * LEAF + 100, 9)
  const tree = buildTree(content)
  const block = (i: number) => content.subarray(i * LEAF, (i + 1) * LEAF)
  assert.equal(tree.verifyBlock(0, block(0).subarray(0, 4095)), 'bad-length')
  assert.equal(tree.verifyBlock(3, block(3).subarray(0, 99)), 'mismatch', 'a truncated last block')
  assert.equal(tree.verifyBlock(3, Buffer.concat([block(3), Buffer.alloc(1)])), 'mismatch', 'a padded last block')
  assert.equal(tree.verifyBlock(3, Buffer.alloc(0)), 'bad-length')
  assert.equal(tree.verifyBlock(1, block(2)), 'mismatch', 'a block at the wrong index')
  // Equal bytes at another index have another chaining value (the chunk counter is hashed in).
  const zeros = buildTree(Buffer.alloc(2 * LEAF))
  assert.notEqual(hex(zeros.leafCv(0)), hex(zeros.leafCv(1)))
  for (const index of [-1, 4, 1.5, NaN, Infinity, 2 ** 60]) assert.equal(tree.verifyBlock(index, block(0)), 'bad-index', String(index))
  assert.equal(tree.verifyBlock(0, 'text' as unknown as Uint8Array), 'bad-length')
  assert.deepEqual(tree.sizeBounds, { min: 3 * LEAF + 1, max: 4 * LEAF })
  // One leaf: the block is checked against the root itself.
  const small = buildTree(Buffer.from('hello'))
  assert.equal(small.verifyBlock(0, Buffer.from('hello')), 'ok')
  assert.equal(small.verifyBlock(0, Buffer.from('hellO')), 'mismatch')
  assert.equal(small.verifyBlock(0, Buffer.from('hell')), 'mismatch')
  assert.equal(buildTree(Buffer.alloc(0)).verifyBlock(0, Buffer.alloc(0)), 'bad-index')
})

test('a corrupted tree names the tree-file blocks that are wrong; reserved header bytes are not checked but zeroed', () => {
  for (const size of [LEAF + 1, 3 * LEAF, 7 * LEAF + 5, 200 * LEAF, 600 * LEAF - 1]) {
    const tree = buildTree(randomish(size, size))
    const positions = new Set([0, 3, 32, 63, 64, 95, 96, tree.bytes.length - 1, tree.bytes.length - 33])
    for (let p = 64; p < tree.bytes.length; p += 997) positions.add(p)
    for (const p of positions) {
      const bad = Buffer.from(tree.bytes)
      bad[p] ^= 0x40
      const check = parseTree(bad, tree.root)
      assert.equal(check.ok, false, `size ${size}, byte ${p}`)
      if (!check.ok) assert.ok(check.badTreeBlocks.includes(Math.floor(p / TREE_BLOCK_BYTES)), `size ${size}, byte ${p}: ${check.badTreeBlocks}`)
    }
    const reserved = Buffer.from(tree.bytes)
    reserved[10] = 7
    const accepted = parseTree(reserved, tree.root)
    assert.ok(accepted.ok, 'the reference writes zeros there but never reads them')
    assert.equal(hex(accepted.tree.bytes), hex(tree.bytes), 'and they are zeroed again, so no copy carries a stamp')
  }
})

test('a tree is checked against the root it is asked for, its size and its id', () => {
  const content = randomish(10 * LEAF + 3, 4)
  const tree = buildTree(content)
  const other = buildTree(randomish(10 * LEAF + 3, 5))
  assert.equal(parseTree(tree.bytes, other.root).ok, false)
  // A self-consistent tree with the asked-for root written in its header is still refused: the
  // top pair must merge to that root.
  const forged = Buffer.from(other.bytes)
  forged.set(tree.root, 32)
  const check = parseTree(forged, tree.root)
  assert.equal(check.ok, false)
  if (!check.ok) assert.deepEqual(check.badTreeBlocks, [0])
  assert.equal(parseTree(tree.bytes, tree.root, { contentSize: content.length }).ok, true)
  assert.equal(parseTree(tree.bytes, tree.root, { contentSize: 10 * LEAF }).ok, false)
  assert.equal(parseTree(tree.bytes, tree.root, { contentSize: -1 }).ok, false)
  assert.equal(parseTreeForId(tree.bytes, tree.id).ok, true)
  assert.equal(parseTreeForId(tree.bytes, tree.treeId).ok, true)
  assert.equal(parseTreeForId(tree.bytes, other.id).ok, false)
  assert.equal(parseTreeForId(tree.bytes, tree.id.toUpperCase()).ok, false)
  const empty = buildTree(Buffer.alloc(0))
  assert.equal(empty.bytes.length, 64)
  assert.equal(parseTree(empty.bytes, empty.root, { contentSize: 0 }).ok, true)
  assert.equal(parseTree(empty.bytes, tree.root).ok, false, 'an empty tree only fits the empty hash')
  // A one-leaf tree's leaf cannot be tied to the root without the content: only the header is checked.
  const one = buildTree(Buffer.from('x'))
  const oneBad = Buffer.from(one.bytes)
  oneBad[70] ^= 1
  assert.equal(parseTree(oneBad, one.root).ok, true)
})

test('ids: blake3/<hex> and blake3_tree_v2/<hex>, lowercase only', () => {
  const tree = buildTree(Buffer.from('id test'))
  const h = hex(tree.root)
  assert.equal(tree.id, `blake3/${h}`)
  assert.equal(tree.treeId, `blake3_tree_v2/${h}`)
  assert.equal(blake3Id(tree.root), tree.id)
  assert.equal(blake3TreeId(tree.root), tree.treeId)
  assert.equal(hex(parseBlake3Id(tree.id)!), h)
  assert.equal(hex(parseBlake3TreeId(tree.treeId)!), h)
  for (const bad of [h, `blake3/${h.toUpperCase()}`, `blake3/${h}0`, `blake3/${h.slice(2)}`, `blake3//${h}`, tree.treeId, 7, null]) {
    assert.equal(parseBlake3Id(bad), null, String(bad))
  }
  assert.equal(parseBlake3TreeId(tree.id), null)
})

test('hostile tree bytes, roots and sizes never throw', () => {
  const good = buildTree(randomish(9 * LEAF + 1, 11))
  const mutated = fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.integer({ min: -40, max: 40 }))
    .map(([edits, grow]) => {
      const b = Buffer.alloc(Math.max(0, good.bytes.length + grow))
      b.set(good.bytes.subarray(0, b.length))
      for (const [at, v] of edits) if (b.length > 0) b[at % b.length] = v
      return b
    })
  fc.assert(fc.property(
    fc.oneof(fc.uint8Array({ maxLength: 3000 }), mutated, fc.anything()),
    fc.oneof(fc.constant(good.root), fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }), fc.anything()),
    fc.oneof(fc.constant(undefined), fc.integer(), fc.double(), fc.constant(2 ** 60)),
    (bytes, root, contentSize) => {
      const check = parseTree(bytes, root as Uint8Array, { contentSize })
      assert.equal(typeof check.ok, 'boolean')
      if (check.ok) {
        assert.equal(hex(check.tree.root), hex(root as Uint8Array))
        check.tree.verifyBlock(0, Buffer.alloc(LEAF))
      } else {
        assert.equal(typeof check.error, 'string')
        assert.ok(check.badTreeBlocks.every((b) => Number.isInteger(b) && b >= 0))
      }
      parseTreeForId(bytes, root as string)
    },
  ), { numRuns: 1500 })
})

test('the tree of a file read in blocks equals the tree of its bytes, with a tap for SHA-256; a missing file is a typed error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'blake3-tree-'))
  try {
    for (const size of [0, 1, LEAF, 5 * 1024 * 1024 + 4097]) {
      const content = randomish(size, size + 1)
      const path = join(dir, `f${size}`)
      await writeFile(path, content)
      const sha = createHash('sha256')
      const fromFile = await buildTreeOfFile(path, { tap: (bytes) => sha.update(bytes) })
      assert.equal(hex(fromFile.bytes), hex(buildTree(content).bytes), `size ${size}`)
      assert.equal(sha.digest('hex'), createHash('sha256').update(content).digest('hex'), 'the tap saw every byte once, in order')
      assert.equal(hex(fromFile.root), blake3(content).toString('hex'))
    }
    await assert.rejects(buildTreeOfFile(join(dir, 'missing')), (err) => isStoreError(err, 'ERR_NOT_FOUND'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})

test('the builder refuses more or fewer bytes than it was told, and use after finish', () => {
  assert.throws(() => new Blake3TreeBuilder({ size: 3 }).update(Buffer.alloc(4)), (err) => isStoreError(err, 'ERR_SIZE'))
  assert.throws(() => new Blake3TreeBuilder({ size: 3 }).update(Buffer.alloc(2)).finish(), (err) => isStoreError(err, 'ERR_SIZE'))
  assert.throws(() => new Blake3TreeBuilder({ size: -1 }), (err) => isStoreError(err, 'ERR_SIZE'))
  assert.throws(() => new Blake3TreeBuilder({ size: (MAX_TREE_LEAVES + 1) * LEAF }), (err) => isStoreError(err, 'ERR_SIZE'))
  const b = new Blake3TreeBuilder()
  b.finish()
  assert.throws(() => b.update(Buffer.alloc(1)), (err) => isStoreError(err, 'ERR_CLOSED'))
  assert.throws(() => b.finish(), (err) => isStoreError(err, 'ERR_CLOSED'))
})

test('a tree saved to disk loads back checked; a missing one is null, a damaged one ERR_CORRUPT', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'blake3-tree-file-'))
  try {
    const tree = buildTree(randomish(50 * LEAF + 9, 21))
    const path = join(dir, tree.treeId.replace('/', '-'))
    await saveTree(path, tree)
    await saveTree(path, tree) // replacing an existing tree is fine
    assert.deepEqual(await readdir(dir), [tree.treeId.replace('/', '-')], 'no temporary file left behind')
    const loaded = await loadTree(path, tree.root, { contentSize: 50 * LEAF + 9 })
    assert.equal(hex(loaded!.bytes), hex(tree.bytes))
    assert.equal(await loadTree(join(dir, 'missing'), tree.root), null)
    await assert.rejects(loadTree(path, buildTree(Buffer.from('other')).root), (err) => isStoreError(err, 'ERR_CORRUPT'))
    const damaged = Buffer.from(tree.bytes)
    damaged[damaged.length - 5] ^= 1
    await writeFile(path, damaged)
    await assert.rejects(loadTree(path, tree.root), (err) => isStoreError(err, 'ERR_CORRUPT'))
    await assert.rejects(saveTree(join(dir, 'no-such-dir', 'tree'), tree), (err) => isStoreError(err, 'ERR_NOT_FOUND'))
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
})
