// Hash and encoding helpers. node:crypto for SHA-256 (fast); hash-wasm for BLAKE3 (WebAssembly,
// about 18x faster than pure JS: every relay hashes every chunk, and at 50 nodes on one machine
// @noble/hashes' BLAKE3 was the largest CPU cost; noble stays the reference the tests compare
// against). Decoders are strict and return null on anything non-canonical, so a record cannot be
// re-encoded into a second valid spelling of the same bytes.
import { createHash } from 'node:crypto'
import { createBLAKE3 } from 'hash-wasm'

// One hasher for the process: WebAssembly instantiation is async, so it happens once at load.
const blake3Hasher = await createBLAKE3()

export const HASH_BYTES = 32

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest()
}

export function blake3(bytes: Uint8Array): Buffer {
  blake3Hasher.init()
  blake3Hasher.update(bytes)
  return Buffer.from(blake3Hasher.digest('binary'))
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
}

const HEX_RE = /^(?:[0-9a-f]{2})*$/
const B64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Lowercase hex only; null for odd length, uppercase or other characters, or a wrong length. */
export function fromHex(s: unknown, expectedBytes?: number): Buffer | null {
  if (typeof s !== 'string' || !HEX_RE.test(s)) return null
  if (expectedBytes !== undefined && s.length !== expectedBytes * 2) return null
  return Buffer.from(s, 'hex')
}

/** Standard padded base64 only (as on the wire); null for anything that would not round-trip. */
export function fromBase64(s: unknown, expectedBytes?: number): Buffer | null {
  if (typeof s !== 'string' || s.length % 4 !== 0) return null
  if (expectedBytes !== undefined && s.length !== Math.ceil(expectedBytes / 3) * 4) return null
  if (!B64_RE.test(s)) return null
  const buf = Buffer.from(s, 'base64')
  if (buf.toString('base64') !== s) return null
  if (expectedBytes !== undefined && buf.length !== expectedBytes) return null
  return buf
}
