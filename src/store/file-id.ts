// Which file ids this node will look up in shared/. Ids come from remote PleaseSendContent
// messages and become path components, so anything that could leave the folder is refused. The
// reference node's BLAKE3 ids (`blake3/<hex>`, `blake3_tree_v2/<hex>`) are the one exception to "no
// slash": their exact shape is checked, and they live in shared/blake3/ and shared/blake3_tree_v2/.
import { parseBlake3Id, parseBlake3TreeId } from './blake3/ids.ts'

/** Ids are path components; 256 is more than any file system allows for one name component. */
export const MAX_FILE_ID_CHARS = 256

const CONTENT_ID_RE = /^[0-9a-f]{64}$/

/** A content id: lowercase SHA-256 hex of the whole file. Only these can be downloaded and verified. */
export function isContentId(id: unknown): id is string {
  return typeof id === 'string' && CONTENT_ID_RE.test(id)
}

/** True for a content id, or for a plain file name the reference node would also serve from
 * ./shared: no path separators, no NUL, no '..', not hidden, not the incoming folder. */
export function isValidFileId(id: unknown): id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_FILE_ID_CHARS) return false
  if (id.includes('/') || id.includes('\\') || id.includes('\0') || id.includes('..')) return false
  if (id.startsWith('.') || id === 'incoming') return false
  return true
}

/** A `blake3/<64 lowercase hex>` id: content whose blocks are checked against its BLAKE3 tree. */
export function isBlake3ContentId(id: unknown): id is string {
  return parseBlake3Id(id) !== null
}

/** An id a download can verify: a SHA-256 content id, or a `blake3/<hex>` id (per block). */
export function isFetchableId(id: unknown): id is string {
  return isContentId(id) || isBlake3ContentId(id)
}

/** An id this node serves from shared/: a plain file id, or exactly `blake3/<hex>` or `blake3_tree_v2/<hex>`. */
export function isServableId(id: unknown): id is string {
  return isValidFileId(id) || isBlake3ContentId(id) || parseBlake3TreeId(id) !== null
}
