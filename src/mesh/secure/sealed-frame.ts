// The frame a datagram travels in between two of our peers that share a Noise session
// (secure-sessions.ts): the session's ChaCha20-Poly1305 key (node:crypto, OpenSSL) over the whole
// JSON datagram, with an explicit counter as the nonce because UDP loses and reorders (as
// WireGuard does; Noise's implicit counter assumes a reliable pipe).
//
//   byte 0      0xE5: never the first byte of UTF-8 JSON, so a classic peer drops it as not_utf8
//   bytes 1-4   the receiver's session index (it chose it in the handshake), big-endian
//   bytes 5-12  the sender's counter, big-endian, never reused under one key
//   rest        ciphertext and its 16-byte tag; the 13 header bytes are authenticated data
import { createCipheriv, createDecipheriv } from 'node:crypto'

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

function nonce(counter: number): Buffer {
  const n = Buffer.alloc(12)
  n.writeBigUInt64BE(BigInt(counter), 4)
  return n
}

export function sealFrame(key: Uint8Array, index: number, counter: number, plain: Uint8Array): Buffer {
  const header = Buffer.alloc(HEADER_BYTES)
  header[0] = SEALED_MAGIC
  header.writeUInt32BE(index, 1)
  header.writeBigUInt64BE(BigInt(counter), 5)
  const c = createCipheriv('chacha20-poly1305', key, nonce(counter), { authTagLength: TAG_BYTES })
  c.setAAD(header, { plaintextLength: plain.length })
  const body = c.update(plain)
  c.final()
  return Buffer.concat([header, body, c.getAuthTag()])
}

/** The plaintext and its counter, or null when the frame was not sealed with this key (tampered,
 * or not ours). */
export function openFrame(key: Uint8Array, frame: Uint8Array): { plain: Buffer; counter: number } | null {
  if (!isSealed(frame)) return null
  const buf = Buffer.from(frame.buffer, frame.byteOffset, frame.length)
  const counter = buf.readBigUInt64BE(5)
  if (counter > BigInt(Number.MAX_SAFE_INTEGER)) return null
  const header = buf.subarray(0, HEADER_BYTES)
  const body = buf.subarray(HEADER_BYTES, buf.length - TAG_BYTES)
  try {
    const d = createDecipheriv('chacha20-poly1305', key, nonce(Number(counter)), { authTagLength: TAG_BYTES })
    d.setAAD(header, { plaintextLength: body.length })
    d.setAuthTag(buf.subarray(buf.length - TAG_BYTES))
    const plain = Buffer.concat([d.update(body), d.final()])
    return { plain, counter: Number(counter) }
  } catch {
    return null
  }
}

/** Which counters have been seen: each is accepted once, and none more than REPLAY_WINDOW behind the newest. */
export class ReplayWindow {
  private newest = -1
  private seen = new Set<number>()

  accept(counter: number): boolean {
    if (counter <= this.newest - REPLAY_WINDOW || this.seen.has(counter)) return false
    this.seen.add(counter)
    if (counter > this.newest) {
      this.newest = counter
      // Forget what fell out of the window (the set never holds more than REPLAY_WINDOW entries).
      if (this.seen.size > REPLAY_WINDOW) for (const c of this.seen) if (c <= this.newest - REPLAY_WINDOW) this.seen.delete(c)
    }
    return true
  }
}
