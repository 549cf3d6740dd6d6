// The BLAKE3 compression function and the chaining values (CVs) the tree-v2 format is made of: the
// non-root CV of a 4 KiB leaf (a subtree of up to four 1 KiB chunks, each with its own chunk
// counter), the non-root CV of a parent node, and the root hash. No maintained JS library exposes
// these (hash-wasm, @noble/hashes and blake3-wasm only give the whole hash, which sets the ROOT flag
// on its last compression, so a CV cannot be recovered from it); this is the smallest piece that
// does. Tests check every root against hash-wasm and @noble/hashes and the official test vectors.
//
// Speed: everything runs on module-level scratch arrays (the functions are synchronous, so they
// cannot interleave) and a round loop with its eight G steps written out on local variables, with no
// allocation per block.
import { endianness } from 'node:os'

export const CHUNK_BYTES = 1024
export const LEAF_BYTES = 4096
export const CV_BYTES = 32
const CHUNKS_PER_LEAF = LEAF_BYTES / CHUNK_BYTES
const BLOCK_BYTES = 64

const CHUNK_START = 1
const CHUNK_END = 2
const PARENT = 4
const ROOT = 8

const IV0 = 0x6a09e667
const IV1 = 0xbb67ae85
const IV2 = 0x3c6ef372
const IV3 = 0xa54ff53a
const IV = Uint32Array.of(IV0, IV1, IV2, IV3, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)

// BLAKE3 reads bytes as little-endian words. On a big-endian host the copies into and out of the
// word arrays swap bytes; everything else is the same.
const BIG_ENDIAN = endianness() === 'BE'

// One leaf of message words (zero-padded past the data), the CVs of a leaf's chunks, one parent
// block (left CV then right CV), and the CV being computed.
const msg = new Uint32Array(LEAF_BYTES / 4)
const msgBytes = new Uint8Array(msg.buffer)
const chunkCvs = new Uint32Array(CHUNKS_PER_LEAF * 8)
const pair = new Uint32Array(16)
const pairBytes = new Uint8Array(pair.buffer)
const cv = new Uint32Array(8)
const cvBytes = new Uint8Array(cv.buffer)

function swapWords(words: Uint32Array, count: number): void {
  for (let i = 0; i < count; i++) {
    const w = words[i]
    words[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)
  }
}

/** One compression, keeping the first 8 output words (the CV): out[outOff..+8] = compress(h, m). */
function compress(
  h: Uint32Array, hOff: number, m: Uint32Array, mOff: number,
  counter: number, blockLen: number, flags: number, out: Uint32Array, outOff: number,
): void {
  let v0 = h[hOff] | 0, v1 = h[hOff + 1] | 0, v2 = h[hOff + 2] | 0, v3 = h[hOff + 3] | 0
  let v4 = h[hOff + 4] | 0, v5 = h[hOff + 5] | 0, v6 = h[hOff + 6] | 0, v7 = h[hOff + 7] | 0
  let v8 = IV0 | 0, v9 = IV1 | 0, v10 = IV2 | 0, v11 = IV3 | 0
  let v12 = counter | 0, v13 = Math.floor(counter / 0x100000000) | 0, v14 = blockLen | 0, v15 = flags | 0
  let m0 = m[mOff] | 0, m1 = m[mOff + 1] | 0, m2 = m[mOff + 2] | 0, m3 = m[mOff + 3] | 0
  let m4 = m[mOff + 4] | 0, m5 = m[mOff + 5] | 0, m6 = m[mOff + 6] | 0, m7 = m[mOff + 7] | 0
  let m8 = m[mOff + 8] | 0, m9 = m[mOff + 9] | 0, m10 = m[mOff + 10] | 0, m11 = m[mOff + 11] | 0
  let m12 = m[mOff + 12] | 0, m13 = m[mOff + 13] | 0, m14 = m[mOff + 14] | 0, m15 = m[mOff + 15] | 0
  for (let round = 0; ; round++) {
    v0 = (v0 + v4 + m0) | 0; v12 ^= v0; v12 = (v12 >>> 16) | (v12 << 16); v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 12) | (v4 << 20)
    v0 = (v0 + v4 + m1) | 0; v12 ^= v0; v12 = (v12 >>> 8) | (v12 << 24); v8 = (v8 + v12) | 0; v4 ^= v8; v4 = (v4 >>> 7) | (v4 << 25)
    v1 = (v1 + v5 + m2) | 0; v13 ^= v1; v13 = (v13 >>> 16) | (v13 << 16); v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 12) | (v5 << 20)
    v1 = (v1 + v5 + m3) | 0; v13 ^= v1; v13 = (v13 >>> 8) | (v13 << 24); v9 = (v9 + v13) | 0; v5 ^= v9; v5 = (v5 >>> 7) | (v5 << 25)
    v2 = (v2 + v6 + m4) | 0; v14 ^= v2; v14 = (v14 >>> 16) | (v14 << 16); v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 12) | (v6 << 20)
    v2 = (v2 + v6 + m5) | 0; v14 ^= v2; v14 = (v14 >>> 8) | (v14 << 24); v10 = (v10 + v14) | 0; v6 ^= v10; v6 = (v6 >>> 7) | (v6 << 25)
    v3 = (v3 + v7 + m6) | 0; v15 ^= v3; v15 = (v15 >>> 16) | (v15 << 16); v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 12) | (v7 << 20)
    v3 = (v3 + v7 + m7) | 0; v15 ^= v3; v15 = (v15 >>> 8) | (v15 << 24); v11 = (v11 + v15) | 0; v7 ^= v11; v7 = (v7 >>> 7) | (v7 << 25)
    v0 = (v0 + v5 + m8) | 0; v15 ^= v0; v15 = (v15 >>> 16) | (v15 << 16); v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 12) | (v5 << 20)
    v0 = (v0 + v5 + m9) | 0; v15 ^= v0; v15 = (v15 >>> 8) | (v15 << 24); v10 = (v10 + v15) | 0; v5 ^= v10; v5 = (v5 >>> 7) | (v5 << 25)
    v1 = (v1 + v6 + m10) | 0; v12 ^= v1; v12 = (v12 >>> 16) | (v12 << 16); v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 12) | (v6 << 20)
    v1 = (v1 + v6 + m11) | 0; v12 ^= v1; v12 = (v12 >>> 8) | (v12 << 24); v11 = (v11 + v12) | 0; v6 ^= v11; v6 = (v6 >>> 7) | (v6 << 25)
    v2 = (v2 + v7 + m12) | 0; v13 ^= v2; v13 = (v13 >>> 16) | (v13 << 16); v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 12) | (v7 << 20)
    v2 = (v2 + v7 + m13) | 0; v13 ^= v2; v13 = (v13 >>> 8) | (v13 << 24); v8 = (v8 + v13) | 0; v7 ^= v8; v7 = (v7 >>> 7) | (v7 << 25)
    v3 = (v3 + v4 + m14) | 0; v14 ^= v3; v14 = (v14 >>> 16) | (v14 << 16); v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 12) | (v4 << 20)
    v3 = (v3 + v4 + m15) | 0; v14 ^= v3; v14 = (v14 >>> 8) | (v14 << 24); v9 = (v9 + v14) | 0; v4 ^= v9; v4 = (v4 >>> 7) | (v4 << 25)
    if (round === 6) break
    // The spec's message permutation between rounds, as renames of locals.
    const t0 = m0, t1 = m1, t2 = m2, t3 = m3, t4 = m4, t5 = m5, t6 = m6, t7 = m7
    const t8 = m8, t9 = m9, t10 = m10, t11 = m11, t12 = m12, t13 = m13, t14 = m14, t15 = m15
    m0 = t2; m1 = t6; m2 = t3; m3 = t10; m4 = t7; m5 = t0; m6 = t4; m7 = t13
    m8 = t1; m9 = t11; m10 = t12; m11 = t5; m12 = t9; m13 = t14; m14 = t15; m15 = t8
  }
  out[outOff] = v0 ^ v8
  out[outOff + 1] = v1 ^ v9
  out[outOff + 2] = v2 ^ v10
  out[outOff + 3] = v3 ^ v11
  out[outOff + 4] = v4 ^ v12
  out[outOff + 5] = v5 ^ v13
  out[outOff + 6] = v6 ^ v14
  out[outOff + 7] = v7 ^ v15
}

/** CV of the chunk whose message words start at msg[wordOff], `len` bytes (0 only for empty
 * content), with chunk counter `counter`; `rootFlag` is ROOT when this chunk is the whole content. */
function chunkCv(wordOff: number, len: number, counter: number, rootFlag: number, out: Uint32Array, outOff: number): void {
  const blocks = Math.max(1, Math.ceil(len / BLOCK_BYTES))
  out.set(IV, outOff)
  for (let b = 0; b < blocks; b++) {
    const last = b === blocks - 1
    const flags = (b === 0 ? CHUNK_START : 0) | (last ? CHUNK_END | rootFlag : 0)
    compress(out, outOff, msg, wordOff + b * 16, counter, last ? len - b * BLOCK_BYTES : BLOCK_BYTES, flags, out, outOff)
  }
}

/** CV of a parent node whose two children's CVs sit in `m` at mOff (left) and mOff + 8 (right). */
function parentCvWords(m: Uint32Array, mOff: number, rootFlag: number, out: Uint32Array, outOff: number): void {
  compress(IV, 0, m, mOff, 0, BLOCK_BYTES, PARENT | rootFlag, out, outOff)
}

function writeCv(out: Uint8Array, outOff: number): void {
  if (BIG_ENDIAN) swapWords(cv, 8)
  out.set(cvBytes, outOff)
}

/** The leaf's subtree of chunks, left-balanced as BLAKE3 requires: (c0 c1) (c2 c3), or (c0 c1) c2. */
function leafWords(data: Uint8Array, off: number, len: number, leafIndex: number, rootFlag: number): void {
  msgBytes.set(data.subarray(off, off + len))
  if (len < LEAF_BYTES) msgBytes.fill(0, len)
  if (BIG_ENDIAN) swapWords(msg, msg.length)
  const chunks = Math.max(1, Math.ceil(len / CHUNK_BYTES))
  const firstCounter = leafIndex * CHUNKS_PER_LEAF
  if (chunks === 1) {
    chunkCv(0, len, firstCounter, rootFlag, cv, 0)
    return
  }
  for (let c = 0; c < chunks; c++) {
    chunkCv(c * 256, Math.min(CHUNK_BYTES, len - c * CHUNK_BYTES), firstCounter + c, 0, chunkCvs, c * 8)
  }
  if (chunks === 2) {
    parentCvWords(chunkCvs, 0, rootFlag, cv, 0)
  } else if (chunks === 3) {
    parentCvWords(chunkCvs, 0, 0, chunkCvs, 0)
    chunkCvs.copyWithin(8, 16, 24)
    parentCvWords(chunkCvs, 0, rootFlag, cv, 0)
  } else {
    parentCvWords(chunkCvs, 0, 0, chunkCvs, 0)
    parentCvWords(chunkCvs, 16, 0, chunkCvs, 8)
    parentCvWords(chunkCvs, 0, rootFlag, cv, 0)
  }
}

/** Non-root CV of leaf `leafIndex`: the `len` bytes (1 to 4096) at data[off]. Writes 32 bytes at out[outOff]. */
export function leafCv(data: Uint8Array, off: number, len: number, leafIndex: number, out: Uint8Array, outOff: number): void {
  leafWords(data, off, len, leafIndex, 0)
  writeCv(out, outOff)
}

/** BLAKE3 hash of content of at most one leaf (0 to 4096 bytes): the root of a one-leaf tree. */
export function singleLeafRoot(data: Uint8Array, off: number, len: number, out: Uint8Array, outOff: number): void {
  leafWords(data, off, len, 0, ROOT)
  writeCv(out, outOff)
}

function mergePair(cvs: Uint8Array, off: number, rootFlag: number, out: Uint8Array, outOff: number): void {
  pairBytes.set(cvs.subarray(off, off + 2 * CV_BYTES))
  if (BIG_ENDIAN) swapWords(pair, 16)
  parentCvWords(pair, 0, rootFlag, cv, 0)
  writeCv(out, outOff)
}

/** Non-root parent CV of the two adjacent CVs at cvs[off] (left) and cvs[off + 32] (right). */
export function parentCv(cvs: Uint8Array, off: number, out: Uint8Array, outOff: number): void {
  mergePair(cvs, off, 0, out, outOff)
}

/** Root hash from the two top CVs at cvs[off] and cvs[off + 32]: the last merge of a tree of two or more leaves. */
export function rootFromPair(cvs: Uint8Array, off: number, out: Uint8Array, outOff: number): void {
  mergePair(cvs, off, ROOT, out, outOff)
}
