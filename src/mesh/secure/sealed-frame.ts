// The frame a datagram travels in between two of our peers that share a Noise session
// (secure-sessions.ts): the session's ChaCha20-Poly1305 key (libsodium, RFC 8439) over the whole
// JSON datagram, with an explicit counter as the nonce because UDP loses and reorders (as
// WireGuard does; Noise's implicit counter assumes a reliable pipe).
//
//   byte 0      0xE5: never the first byte of UTF-8 JSON, so a classic peer drops it as not_utf8
//   bytes 1-4   the receiver's session index (it chose it in the handshake), big-endian
//   bytes 5-12  the sender's counter, big-endian, never reused under one key
//   rest        ciphertext and its 16-byte tag; the 13 header bytes are authenticated data
import sodium from 'sodium-native'

export const SEALED_MAGIC = 0xe5
export const HEADER_BYTES = 13
export const TAG_BYTES = 16
/** Counters older than this many behind the newest are refused (a replay or a very late datagram). */
export const REPLAY_WINDOW = 1024

export function isSealed(buf: Uint8Array): boolean {
  return buf.length >= HEADER_BYTES + TAG_BYTES && buf[0] === SEALED_MAGIC
}

export function sessionIndexOf(buf: Uint8Array): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.length).readUInt32BE(1)
}

// One nonce buffer for the process: sealing and opening are synchronous, so no two uses overlap.
const NONCE = Buffer.alloc(12)
function nonce(counter: number): Buffer {
  NONCE.writeBigUInt64BE(BigInt(counter), 4)
  return NONCE
}

// libsodium's AEAD (sodium-native), not node:crypto's: node:crypto builds a cipher object per
// datagram, which made sealing and opening a 4 KiB block cost 3.5x the plain JSON path; libsodium
// writes the ciphertext straight after the header, in the one buffer that goes on the wire. Same
// cipher, same bytes (RFC 8439): test/mesh/sealed-frame.test.ts checks both ways against node:crypto.
export function sealFrame(key: Uint8Array, index: number, counter: number, plain: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(HEADER_BYTES + plain.length + TAG_BYTES)
  frame[0] = SEALED_MAGIC
  frame.writeUInt32BE(index, 1)
  frame.writeBigUInt64BE(BigInt(counter), 5)
  sodium.crypto_aead_chacha20poly1305_ietf_encrypt(frame.subarray(HEADER_BYTES), plain, frame.subarray(0, HEADER_BYTES), null, nonce(counter), key)
  return frame
}

/** The plaintext and its counter, or null when the frame was not sealed with this key (tampered,
 * or not ours). */
export function openFrame(key: Uint8Array, frame: Uint8Array): { plain: Buffer; counter: number } | null {
  if (!isSealed(frame)) return null
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.length)
  const counter = buf.readBigUInt64BE(5)
  if (counter > BigInt(Number.MAX_SAFE_INTEGER)) return null
  // A buffer of its own: the Content bytes in it outlive the datagram (the store keeps them).
  const plain = Buffer.allocUnsafe(buf.length - HEADER_BYTES - TAG_BYTES)
  try {
    sodium.crypto_aead_chacha20poly1305_ietf_decrypt(plain, null, buf.subarray(HEADER_BYTES), buf.subarray(0, HEADER_BYTES), nonce(Number(counter)), key)
  } catch {
    return null
  }
  return { plain, counter: Number(counter) }
}

/** Which counters have been seen: each is accepted once, and none REPLAY_WINDOW or more behind
 * the newest. A bitmap over the window (as WireGuard keeps it), constant time per datagram: a set
 * of counters swept on every new one cost more than the cipher. */
export class ReplayWindow {
  private newest = -1
  private readonly bits = new Uint32Array(REPLAY_WINDOW / 32)

  accept(counter: number): boolean {
    if (counter > this.newest) {
      // The window slides: the slots of the counters it passes over are free again.
      if (counter - this.newest >= REPLAY_WINDOW) this.bits.fill(0)
      else for (let c = this.newest + 1; c < counter; c++) this.flip(c, false)
      this.newest = counter
      this.flip(counter, true)
      return true
    }
    if (counter <= this.newest - REPLAY_WINDOW || this.has(counter)) return false
    this.flip(counter, true)
    return true
  }

  private has(c: number): boolean {
    const i = c % REPLAY_WINDOW
    return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0
  }

  private flip(c: number, on: boolean): void {
    const i = c % REPLAY_WINDOW
    if (on) this.bits[i >>> 5] |= 1 << (i & 31)
    else this.bits[i >>> 5] &= ~(1 << (i & 31))
  }
}
