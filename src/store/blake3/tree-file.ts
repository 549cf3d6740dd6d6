// A tree on disk is the tree-v2 bytes exactly as served under `blake3_tree_v2/<root>`, so serving it
// is reading a file. It is written whole under a temporary name and renamed, so a crash leaves the
// old tree or the new one, never half of one; it is checked again on load, because a disk can rot
// and a tree that lies would let bad blocks through.
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, unlink } from 'node:fs/promises'
import { StoreError, errnoCode, fsError } from '../errors.ts'
import { Blake3Tree, MAX_TREE_LEAVES, parseTree, treeBytesForLeaves } from './tree.ts'
import type { ParseTreeInit } from './tree.ts'

export async function saveTree(path: string, tree: Blake3Tree): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const fh = await open(tmp, 'wx')
    try {
      await fh.writeFile(tree.bytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw fsError(err, `writing the BLAKE3 tree ${path}`)
  }
}

/** The checked tree stored at `path` for `root`, or null when there is none. A file that is too
 * big or fails the check is ERR_CORRUPT: the caller should delete it and fetch or build it again. */
export async function loadTree(path: string, root: Uint8Array, init: ParseTreeInit = {}): Promise<Blake3Tree | null> {
  let bytes
  try {
    const fh = await open(path, 'r')
    try {
      const { size } = await fh.stat()
      if (size > treeBytesForLeaves(MAX_TREE_LEAVES)) throw new StoreError('ERR_CORRUPT', `BLAKE3 tree ${path} is ${size} bytes, over the cap`)
      bytes = await readFile(fh)
    } finally {
      await fh.close()
    }
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null
    throw fsError(err, `reading the BLAKE3 tree ${path}`)
  }
  const check = parseTree(bytes, root, init)
  if (!check.ok) throw new StoreError('ERR_CORRUPT', `BLAKE3 tree ${path}: ${check.error}`)
  return check.tree
}
