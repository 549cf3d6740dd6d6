// The sealed frame (src/mesh/secure/sealed-frame.ts): its cipher is RFC 8439 ChaCha20-Poly1305
// whichever library computes it (a node that sealed with node:crypto and one that seals with
// libsodium must read each other), a tampered byte anywhere fails it, and the replay window takes
// each counter once and nothing that fell out of it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { HEADER_BYTES, REPLAY_WINDOW, ReplayWindow, TAG_BYTES, openFrame, sealFrame, sessionIndexOf } from '../../src/mesh/secure/sealed-frame.ts'

const nonce = (counter: number) => { const n = Buffer.alloc(12); n.writeBigUInt64BE(BigInt(counter), 4); return n }

test('a sealed frame is RFC 8439 ChaCha20-Poly1305 over the body with the header as associated data, both ways against node:crypto', () => {
  const key = randomBytes(32)
  for (const size of [0, 1, 4096 + 200, 9000]) {
    const plain = randomBytes(size)
    const frame = sealFrame(key, 0xdeadbeef, 77 + size, plain)
    assert.equal(frame.length, HEADER_BYTES + size + TAG_BYTES)
    assert.equal(sessionIndexOf(frame), 0xdeadbeef)
    // node:crypto opens what we sealed...
    const d = createDecipheriv('chacha20-poly1305', key, nonce(77 + size), { authTagLength: TAG_BYTES })
    d.setAAD(frame.subarray(0, HEADER_BYTES), { plaintextLength: size })
    d.setAuthTag(frame.subarray(frame.length - TAG_BYTES))
    assert.deepEqual(Buffer.concat([d.update(frame.subarray(HEADER_BYTES, frame.length - TAG_BYTES)), d.final()]), plain)
    // ...and we open what node:crypto sealed.
    const header = frame.subarray(0, HEADER_BYTES)
    const c = createCipheriv('chacha20-poly1305', key, nonce(77 + size), { authTagLength: TAG_BYTES })
    c.setAAD(header, { plaintextLength: size })
    const theirs = Buffer.concat([header, c.update(plain), c.final(), c.getAuthTag()])
    assert.deepEqual(theirs, frame)
    assert.deepEqual(openFrame(key, theirs), { plain, counter: 77 + size })
  }
})

test('a frame with any byte changed, or under another key, does not open', () => {
  const key = randomBytes(32)
  const frame = sealFrame(key, 5, 9, Buffer.from('[{"PleaseSendPeers":{}}]'))
  assert.ok(openFrame(key, frame))
  for (let i = 1; i < frame.length; i++) {
    const bad = Buffer.from(frame)
    bad[i] ^= 0x40
    assert.equal(openFrame(key, bad), null, `byte ${i} changed`)
  }
  assert.equal(openFrame(randomBytes(32), frame), null)
})

test('the replay window takes each counter once, late ones within the window, none older', () => {
  const w = new ReplayWindow()
  assert.equal(w.accept(0), true)
  assert.equal(w.accept(0), false)
  assert.equal(w.accept(5), true)
  // Late but within the window: taken once.
  for (const c of [3, 1, 4, 2]) assert.equal(w.accept(c), true, `late ${c}`)
  for (const c of [0, 1, 2, 3, 4, 5]) assert.equal(w.accept(c), false, `again ${c}`)
  // A jump forward: what fell REPLAY_WINDOW behind the newest is refused, even if never seen.
  const top = 5 + REPLAY_WINDOW + 10
  assert.equal(w.accept(top), true)
  assert.equal(w.accept(top - REPLAY_WINDOW), false)
  assert.equal(w.accept(top - REPLAY_WINDOW + 1), true)
  assert.equal(w.accept(top - 1), true)
  assert.equal(w.accept(top - 1), false)
  // A long run in order, with every slot reused many times over: each counter once.
  for (let c = top + 1; c < top + 5 * REPLAY_WINDOW; c++) assert.equal(w.accept(c), true)
  assert.equal(w.accept(top + 5 * REPLAY_WINDOW - 2), false)
  // A jump of more than the whole window forgets everything behind it.
  const far = top + 50 * REPLAY_WINDOW
  assert.equal(w.accept(far), true)
  assert.equal(w.accept(far - 1), true)
  assert.equal(w.accept(far - REPLAY_WINDOW), false)
})
