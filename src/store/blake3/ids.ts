// The ids the reference node gives BLAKE3-addressed content and its tree: `blake3/<root hex>` for
// the content, `blake3_tree_v2/<root hex>` for the tree file that lets a downloader check every
// 4 KiB block on arrival. Both move in ordinary PleaseSendContent / Content messages.
import { fromHex, HASH_BYTES, toHex } from '../hashes.ts'

export const BLAKE3_ID_PREFIX = 'blake3/'
export const BLAKE3_TREE_ID_PREFIX = 'blake3_tree_v2/'

/** `blake3/<64 lowercase hex>` for a root hash. */
export function blake3Id(root: Uint8Array): string {
  return BLAKE3_ID_PREFIX + toHex(root)
}

/** `blake3_tree_v2/<64 lowercase hex>`: the id the tree of `blake3/<same hex>` is fetched by. */
export function blake3TreeId(root: Uint8Array): string {
  return BLAKE3_TREE_ID_PREFIX + toHex(root)
}

/** The root hash named by a `blake3/<hex>` id, or null. Only lowercase hex: the reference prints ids
 * lowercase and uses them as file names, so an uppercase spelling would be a different file. */
export function parseBlake3Id(id: unknown): Buffer | null {
  if (typeof id !== 'string' || !id.startsWith(BLAKE3_ID_PREFIX)) return null
  return fromHex(id.slice(BLAKE3_ID_PREFIX.length), HASH_BYTES)
}

/** The root hash named by a `blake3_tree_v2/<hex>` id, or null. */
export function parseBlake3TreeId(id: unknown): Buffer | null {
  if (typeof id !== 'string' || !id.startsWith(BLAKE3_TREE_ID_PREFIX)) return null
  return fromHex(id.slice(BLAKE3_TREE_ID_PREFIX.length), HASH_BYTES)
}
