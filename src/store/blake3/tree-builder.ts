// Builds the BLAKE3 tree of content that arrives in pieces of any size (a file read in blocks, an
// upload), so a big file never has to be in memory: only its tree is (1/64 of its size). The last
// 4 KiB leaf is held back until more bytes or finish() say whether it is the last one, because a
// one-leaf tree's root is the hash of the leaf itself rather than a merge.
import { open } from 'node:fs/promises'
import { StoreError, fsError } from '../errors.ts'
import { CV_BYTES, LEAF_BYTES, leafCv, singleLeafRoot } from './chaining-values.ts'
import { Blake3Tree, MAX_TREE_LEAVES, completeTree, leafCountForSize, treeBytesForLeaves } from './tree.ts'

export interface TreeBuilderInit {
  /** The content's size when known up front: the tree is then written in place, without copies,
   * and more or fewer bytes than this is an error. */
  size?: number
}

export class Blake3TreeBuilder {
  readonly #size: number | undefined
  // Leaves go straight to their place in the final tree when the size is known; otherwise into a
  // growing buffer that finish() copies once.
  #out: Uint8Array
  #leafBase: number
  #leafCount = 0
  #seen = 0
  readonly #pending = new Uint8Array(LEAF_BYTES)
  #pendingLen = 0
  #finished = false

  constructor(init: TreeBuilderInit = {}) {
    const { size } = init
    if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) throw new StoreError('ERR_SIZE', `bad content size ${size}`)
    this.#size = size
    const leaves = size === undefined ? 0 : leafCountForSize(size)
    if (leaves > MAX_TREE_LEAVES) throw new StoreError('ERR_SIZE', `content of ${size} bytes is over the BLAKE3 tree cap of ${MAX_TREE_LEAVES} leaves`)
    if (size === undefined) {
      this.#out = new Uint8Array(64 * CV_BYTES)
      this.#leafBase = 0
    } else {
      this.#out = new Uint8Array(treeBytesForLeaves(leaves))
      this.#leafBase = this.#out.length - leaves * CV_BYTES
    }
  }

  /** Bytes hashed so far. */
  get bytesSeen(): number {
    return this.#seen
  }

  update(data: Uint8Array): this {
    if (this.#finished) throw new StoreError('ERR_CLOSED', 'BLAKE3 tree builder already finished')
    this.#seen += data.length
    if (this.#size !== undefined && this.#seen > this.#size) {
      throw new StoreError('ERR_SIZE', `content grew past its declared ${this.#size} bytes`)
    }
    let off = 0
    if (this.#pendingLen > 0) {
      const take = Math.min(LEAF_BYTES - this.#pendingLen, data.length)
      this.#pending.set(data.subarray(0, take), this.#pendingLen)
      this.#pendingLen += take
      off = take
      if (this.#pendingLen < LEAF_BYTES || off === data.length) return this
      this.#pushLeaf(this.#pending, 0, LEAF_BYTES)
      this.#pendingLen = 0
    }
    for (; data.length - off > LEAF_BYTES; off += LEAF_BYTES) this.#pushLeaf(data, off, LEAF_BYTES)
    this.#pending.set(data.subarray(off), 0)
    this.#pendingLen = data.length - off
    return this
  }

  finish(): Blake3Tree {
    if (this.#finished) throw new StoreError('ERR_CLOSED', 'BLAKE3 tree builder already finished')
    this.#finished = true
    if (this.#size !== undefined && this.#seen !== this.#size) {
      throw new StoreError('ERR_SIZE', `content ended at ${this.#seen} of its declared ${this.#size} bytes`)
    }
    let contentRoot: Uint8Array | undefined
    if (this.#leafCount === 0) {
      contentRoot = new Uint8Array(CV_BYTES)
      singleLeafRoot(this.#pending, 0, this.#pendingLen, contentRoot, 0)
    }
    if (this.#pendingLen > 0) this.#pushLeaf(this.#pending, 0, this.#pendingLen)
    const n = this.#leafCount
    let bytes = this.#out
    if (this.#size === undefined) {
      bytes = new Uint8Array(treeBytesForLeaves(n))
      bytes.set(this.#out.subarray(0, n * CV_BYTES), bytes.length - n * CV_BYTES)
      this.#out = new Uint8Array(0)
    }
    completeTree(bytes, n, contentRoot)
    return new Blake3Tree(bytes, n)
  }

  #pushLeaf(data: Uint8Array, off: number, len: number): void {
    if (this.#size === undefined) {
      if (this.#leafCount >= MAX_TREE_LEAVES) throw new StoreError('ERR_SIZE', `content is over the BLAKE3 tree cap of ${MAX_TREE_LEAVES} leaves`)
      const need = (this.#leafCount + 1) * CV_BYTES
      if (need > this.#out.length) {
        const grown = new Uint8Array(Math.min(this.#out.length * 2, MAX_TREE_LEAVES * CV_BYTES))
        grown.set(this.#out)
        this.#out = grown
      }
    }
    leafCv(data, off, len, this.#leafCount, this.#out, this.#leafBase + this.#leafCount * CV_BYTES)
    this.#leafCount++
  }
}

/** The tree of content already in memory. */
export function buildTree(content: Uint8Array): Blake3Tree {
  return new Blake3TreeBuilder({ size: content.length }).update(content).finish()
}

/** Reads are this size: a multiple of 4 KiB so whole leaves hash straight from the read buffer, and
 * large enough that the event loop gets a turn only every few milliseconds of hashing. */
const READ_BYTES = 1024 * 1024

export interface TreeOfFileInit {
  /** Sees every byte in order, so a caller can take the SHA-256 id in the same pass (the reference
   * does the same when it shares a file). */
  tap?: (bytes: Uint8Array) => void
}

/** The tree of a file, read in 1 MiB blocks. A file that changes size while it is read is an error. */
export async function buildTreeOfFile(path: string, init: TreeOfFileInit = {}): Promise<Blake3Tree> {
  let handle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    throw fsError(err, `opening ${path} to build its BLAKE3 tree`)
  }
  try {
    const { size } = await handle.stat()
    const builder = new Blake3TreeBuilder({ size })
    const buf = new Uint8Array(Math.min(READ_BYTES, Math.max(size, 1)))
    try {
      for (;;) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, builder.bytesSeen)
        if (bytesRead === 0) break
        const piece = buf.subarray(0, bytesRead)
        builder.update(piece)
        init.tap?.(piece)
      }
      return builder.finish()
    } catch (err) {
      if (err instanceof StoreError && err.code === 'ERR_SIZE') {
        throw new StoreError('ERR_IO', `${path} changed while its BLAKE3 tree was built: ${err.message}`, { cause: err })
      }
      throw err
    }
  } catch (err) {
    throw fsError(err, `reading ${path} to build its BLAKE3 tree`)
  } finally {
    await handle.close()
  }
}
