// The BLAKE3 tree of a file in the reference node's tree-v2 format (docs/PROTOCOL.md, "BLAKE3 tree
// ids"): a 64-byte header (magic "B3T\x02", 28 reserved bytes, the 32-byte root hash), then the
// levels of the tree top-first, the leaves last. A leaf is the chaining value of one 4 KiB block of
// the content; each level above pairs neighbours left to right and passes an odd last entry up
// unchanged, until the top level holds two entries whose root merge is the BLAKE3 hash of the
// whole content. The leaf count is not stored: it follows from the tree's length (or the content's).
//
// A tree from a peer is checked top-down from the root we asked for, so a bad tree names the 4 KiB
// blocks of the tree file that are wrong (a downloader fetches those again) and a good tree lets
// every content block be checked on arrival, before it is stored or relayed.
import { CV_BYTES, LEAF_BYTES, leafCv, parentCv, rootFromPair, singleLeafRoot } from './chaining-values.ts'
import { blake3Id, blake3TreeId, parseBlake3Id, parseBlake3TreeId } from './ids.ts'

export const TREE_HEADER_BYTES = 64
export const TREE_MAGIC = Uint8Array.of(0x42, 0x33, 0x54, 0x02) // "B3T\x02"
/** A tree file moves in 4 KiB blocks like any content; blame for a bad tree is given in these. */
export const TREE_BLOCK_BYTES = 4096
/** A tree is held as one buffer: 2^25 leaves is 128 GiB of content and a 2 GiB tree, about the
 * largest buffer worth holding (and a cap on what a peer's claimed size can make us allocate). */
export const MAX_TREE_LEAVES = 2 ** 25

const ROOT_OFFSET = 32

/** Number of 4 KiB leaves of content of `size` bytes (0 for empty content). */
export function leafCountForSize(size: number): number {
  return Math.ceil(size / LEAF_BYTES)
}

/** Entries per level, leaves first; the last (top) level has two entries once there are two leaves. */
export function levelSizes(leafCount: number): number[] {
  const sizes = [leafCount]
  for (let n = leafCount; n > 2;) {
    n = Math.ceil(n / 2)
    sizes.push(n)
  }
  return sizes
}

/** Byte offset of each level in the serialised tree, leaves first (levels are stored top-first). */
function levelOffsets(sizes: readonly number[], totalBytes: number): number[] {
  let end = totalBytes
  return sizes.map((s) => (end -= s * CV_BYTES))
}

/** Length of the serialised tree of `leafCount` leaves. */
export function treeBytesForLeaves(leafCount: number): number {
  return TREE_HEADER_BYTES + CV_BYTES * levelSizes(leafCount).reduce((a, b) => a + b, 0)
}

/** The leaf count of a serialised tree of `treeBytes` bytes, or null when no leaf count gives that
 * length (the length grows strictly with the leaf count, so a binary search finds it). */
export function leafCountForTreeBytes(treeBytes: number): number | null {
  if (!Number.isSafeInteger(treeBytes) || treeBytes < TREE_HEADER_BYTES) return null
  if ((treeBytes - TREE_HEADER_BYTES) % CV_BYTES !== 0) return null
  let lo = 0
  let hi = (treeBytes - TREE_HEADER_BYTES) / CV_BYTES // entries >= leaves
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2)
    if (treeBytesForLeaves(mid) < treeBytes) lo = mid + 1
    else hi = mid
  }
  return treeBytesForLeaves(lo) === treeBytes ? lo : null
}

function equal32(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number): boolean {
  for (let i = 0; i < CV_BYTES; i++) if (a[aOff + i] !== b[bOff + i]) return false
  return true
}

/** Writes the header, every level above the leaves and (for two or more leaves) the root into a
 * serialised tree whose leaves are already in place. For one leaf or none the root is the hash of
 * the content itself, which only the caller has: it passes it as `contentRoot`. */
export function completeTree(bytes: Uint8Array, leafCount: number, contentRoot?: Uint8Array): void {
  bytes.set(TREE_MAGIC, 0)
  bytes.fill(0, TREE_MAGIC.length, ROOT_OFFSET)
  const sizes = levelSizes(leafCount)
  const offsets = levelOffsets(sizes, bytes.length)
  for (let k = 0; k + 1 < sizes.length; k++) {
    const n = sizes[k]
    const src = offsets[k]
    const dst = offsets[k + 1]
    for (let i = 0; 2 * i + 1 < n; i++) parentCv(bytes, src + 2 * i * CV_BYTES, bytes, dst + i * CV_BYTES)
    if (n % 2 === 1) bytes.copyWithin(dst + (n >> 1) * CV_BYTES, src + (n - 1) * CV_BYTES, src + n * CV_BYTES)
  }
  if (leafCount >= 2) rootFromPair(bytes, offsets[sizes.length - 1], bytes, ROOT_OFFSET)
  else if (contentRoot) bytes.set(contentRoot.subarray(0, CV_BYTES), ROOT_OFFSET)
}

/** What checking one content block against the tree found. */
export type BlockCheck = 'ok' | 'bad-index' | 'bad-length' | 'mismatch'

/** A checked (or locally built) tree: its serialised bytes, exactly as served under its tree id. */
export class Blake3Tree {
  readonly bytes: Uint8Array
  readonly leafCount: number
  readonly #leafOffset: number

  /** Only for bytes that were built here or passed parseTree. */
  constructor(bytes: Uint8Array, leafCount: number) {
    this.bytes = bytes
    this.leafCount = leafCount
    this.#leafOffset = bytes.length - leafCount * CV_BYTES
  }

  /** The BLAKE3 hash of the whole content. */
  get root(): Uint8Array {
    return this.bytes.subarray(ROOT_OFFSET, ROOT_OFFSET + CV_BYTES)
  }

  /** `blake3/<root hex>`: the content's id. */
  get id(): string {
    return blake3Id(this.root)
  }

  /** `blake3_tree_v2/<root hex>`: the id this tree is served under. */
  get treeId(): string {
    return blake3TreeId(this.root)
  }

  /** The smallest and largest content size this tree can describe; the exact size is fixed by the
   * length of the last block, which its chaining value binds. */
  get sizeBounds(): { min: number; max: number } {
    if (this.leafCount === 0) return { min: 0, max: 0 }
    return { min: (this.leafCount - 1) * LEAF_BYTES + 1, max: this.leafCount * LEAF_BYTES }
  }

  /** The 32-byte chaining value of leaf `index` (a view into the tree). */
  leafCv(index: number): Uint8Array {
    const at = this.#leafOffset + index * CV_BYTES
    return this.bytes.subarray(at, at + CV_BYTES)
  }

  /** Checks content block `index` (bytes [index*4096, +data.length)): every block but the last is
   * 4096 bytes, the last 1 to 4096. A one-leaf tree is checked against the root itself, because
   * its single leaf cannot be tied to the root without the content. */
  verifyBlock(index: number, data: Uint8Array): BlockCheck {
    const n = this.leafCount
    if (!Number.isSafeInteger(index) || index < 0 || index >= n) return 'bad-index'
    if (!(data instanceof Uint8Array)) return 'bad-length'
    const len = data.length
    if (index < n - 1 ? len !== LEAF_BYTES : len < 1 || len > LEAF_BYTES) return 'bad-length'
    if (n === 1) {
      singleLeafRoot(data, 0, len, scratch, 0)
      return equal32(scratch, 0, this.bytes, ROOT_OFFSET) ? 'ok' : 'mismatch'
    }
    leafCv(data, 0, len, index, scratch, 0)
    return equal32(scratch, 0, this.bytes, this.#leafOffset + index * CV_BYTES) ? 'ok' : 'mismatch'
  }
}

const scratch = new Uint8Array(CV_BYTES)
const EMPTY_ROOT = (() => {
  const root = new Uint8Array(CV_BYTES)
  singleLeafRoot(new Uint8Array(0), 0, 0, root, 0)
  return root
})()

/** A parsed tree, or why not; `badTreeBlocks` are the 4 KiB blocks of the tree file found wrong
 * (empty when the whole tree is unusable, e.g. a length that fits no leaf count). */
export type TreeCheck =
  | { ok: true; tree: Blake3Tree }
  | { ok: false; error: string; badTreeBlocks: number[] }

function fail(error: string, badTreeBlocks: Iterable<number> = []): TreeCheck {
  return { ok: false, error, badTreeBlocks: [...new Set(badTreeBlocks)].sort((a, b) => a - b) }
}

export interface ParseTreeInit {
  /** The content's size when known (a Content message's eof): the leaf count must match it. */
  contentSize?: number
}

/** Checks tree bytes from anyone against the root the id names; never throws. The tree is trusted
 * from the root down: the top pair must merge to the root, and every trusted parent must be the
 * merge of its two children (or equal its single passed-up child). */
export function parseTree(bytes: unknown, root: Uint8Array, init: ParseTreeInit = {}): TreeCheck {
  if (!(bytes instanceof Uint8Array)) return fail('tree is not bytes')
  if (!(root instanceof Uint8Array) || root.length !== CV_BYTES) return fail('expected root is not 32 bytes')
  const n = leafCountForTreeBytes(bytes.length)
  if (n === null) return fail(`tree length ${bytes.length} fits no leaf count`)
  if (n > MAX_TREE_LEAVES) return fail(`tree of ${n} leaves is over the cap of ${MAX_TREE_LEAVES}`)
  const { contentSize } = init
  if (contentSize !== undefined && (!Number.isSafeInteger(contentSize) || contentSize < 0 || leafCountForSize(contentSize) !== n)) {
    return fail(`tree of ${n} leaves does not fit content of ${contentSize} bytes`)
  }
  const owned = new Uint8Array(bytes)
  const bad = new Set<number>()
  for (let i = 0; i < TREE_MAGIC.length; i++) if (owned[i] !== TREE_MAGIC[i]) bad.add(0)
  if (!equal32(owned, ROOT_OFFSET, root, 0)) bad.add(0)
  if (n === 0 && !equal32(root, 0, EMPTY_ROOT, 0)) return fail('an empty tree can only be the tree of empty content')
  if (n >= 2) checkFromRoot(owned, n, root, bad)
  if (bad.size > 0) return fail(`tree does not match root ${blake3Id(root)}`, bad)
  // Nothing binds the reserved bytes to the id, so a peer could stamp each copy it serves and learn
  // who fetched from whom; zeroing them makes every accepted tree the one we would have built.
  owned.fill(0, TREE_MAGIC.length, ROOT_OFFSET)
  return { ok: true, tree: new Blake3Tree(owned, n) }
}

/** parseTree for a `blake3/<hex>` or `blake3_tree_v2/<hex>` id. */
export function parseTreeForId(bytes: unknown, id: unknown, init: ParseTreeInit = {}): TreeCheck {
  const root = parseBlake3Id(id) ?? parseBlake3TreeId(id)
  if (!root) return fail(`not a BLAKE3 id: ${typeof id === 'string' ? id.slice(0, 80) : typeof id}`)
  return parseTree(bytes, root, init)
}

function checkFromRoot(bytes: Uint8Array, n: number, root: Uint8Array, bad: Set<number>): void {
  const blame = (at: number) => bad.add(Math.floor(at / TREE_BLOCK_BYTES))
  const sizes = levelSizes(n)
  const offsets = levelOffsets(sizes, bytes.length)
  const top = sizes.length - 1
  rootFromPair(bytes, offsets[top], scratch, 0)
  if (!equal32(scratch, 0, root, 0)) {
    blame(offsets[top])
    blame(offsets[top] + CV_BYTES)
    return
  }
  let trusted = Uint8Array.of(1, 1)
  for (let k = top; k > 0; k--) {
    const parents = offsets[k]
    const children = offsets[k - 1]
    const childCount = sizes[k - 1]
    const trustedChildren = new Uint8Array(childCount)
    for (let i = 0; i < sizes[k]; i++) {
      if (!trusted[i]) continue
      const left = children + 2 * i * CV_BYTES
      if (2 * i + 1 < childCount) {
        parentCv(bytes, left, scratch, 0)
        if (equal32(scratch, 0, bytes, parents + i * CV_BYTES)) trustedChildren[2 * i] = trustedChildren[2 * i + 1] = 1
        else { blame(left); blame(left + CV_BYTES) }
      } else if (equal32(bytes, left, bytes, parents + i * CV_BYTES)) {
        trustedChildren[2 * i] = 1
      } else {
        blame(left)
      }
    }
    trusted = trustedChildren
  }
}
