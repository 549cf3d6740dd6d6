// Positions in the DHT's id space: 256-bit, compared by XOR distance. A node sits at the sha256 of
// its ed25519 public key, so it cannot pick its place without grinding keys; a piece of content sits
// at the sha256 of its id (a file's sha256 hex or a stream id alike).
import { createHash } from 'node:crypto'

export const ID_BYTES = 32

/** A node's position: sha256 of its raw 32-byte public key (given as hex). */
export function nodeIdOf(publicKeyHex: string): Buffer {
  return createHash('sha256').update(Buffer.from(publicKeyHex, 'hex')).digest()
}

/** A content id's position: sha256 of the id as written. */
export function keyOf(contentId: string): Buffer {
  return createHash('sha256').update(contentId, 'utf8').digest()
}

/** Negative when `a` is closer to `target` than `b` (XOR metric, exact over every byte). */
export function closer(target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const d = (a[i] ^ target[i]) - (b[i] ^ target[i])
    if (d !== 0) return d
  }
  return 0
}

/** Leading bits `a` and `b` share: 256 for equal ids. */
export function sharedPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = a[i] ^ b[i]
    if (x !== 0) return i * 8 + Math.clz32(x) - 24
  }
  return ID_BYTES * 8
}
