// Which file ids this node will look up in shared/. Ids come from remote PleaseSendContent
// messages and become path components, so anything that could leave the folder is refused.

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
