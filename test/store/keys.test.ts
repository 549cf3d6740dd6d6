import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateStreamKey, loadOrCreateKey, verifySignature } from '../../src/store/keys.ts'
import { isStoreError } from '../../src/store/errors.ts'

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'cjp2p-keys-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

test('loadOrCreateKey creates a 0600 key once and reuses it', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'sub', 'stream.key')
  const a = await loadOrCreateKey(file)
  assert.match(a.publicKeyHex, /^[0-9a-f]{64}$/)
  assert.equal((await stat(file)).mode & 0o777, 0o600)
  const b = await loadOrCreateKey(file)
  assert.equal(b.publicKeyHex, a.publicKeyHex)
  const msg = Buffer.from('hello')
  assert.ok(verifySignature(a.publicKeyHex, msg, b.sign(msg)))
})

test('concurrent creation agrees on one key', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'k.pem')
  const keys = await Promise.all([1, 2, 3, 4].map(() => loadOrCreateKey(file)))
  assert.equal(new Set(keys.map((k) => k.publicKeyHex)).size, 1)
})

test('a corrupt key file is an error, never silently replaced', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'k.pem')
  await writeFile(file, 'not a key')
  await assert.rejects(loadOrCreateKey(file), (err) => isStoreError(err, 'ERR_CORRUPT'))
})

test('verifySignature rejects wrong key, tampered message, and garbage without throwing', () => {
  const k = generateStreamKey()
  const other = generateStreamKey()
  const msg = Buffer.from('chunk 7')
  const sig = k.sign(msg)
  assert.equal(sig.length, 64)
  assert.ok(verifySignature(k.publicKeyHex, msg, sig))
  assert.equal(verifySignature(other.publicKeyHex, msg, sig), false)
  assert.equal(verifySignature(k.publicKeyHex, Buffer.from('chunk 8'), sig), false)
  const bad = Buffer.from(sig)
  bad[3] ^= 1
  assert.equal(verifySignature(k.publicKeyHex, msg, bad), false)
  assert.equal(verifySignature('zz'.repeat(32), msg, sig), false)
  assert.equal(verifySignature(k.publicKeyHex.toUpperCase(), msg, sig), false)
  assert.equal(verifySignature(k.publicKeyHex.slice(2), msg, sig), false)
  assert.equal(verifySignature(k.publicKeyHex, msg, sig.subarray(1)), false)
  assert.equal(verifySignature('ff'.repeat(32), msg, sig), false)
  assert.equal(verifySignature('00'.repeat(32), msg, Buffer.alloc(64)), false)
  assert.equal(verifySignature(undefined as unknown as string, msg, sig), false)
  assert.equal(verifySignature(k.publicKeyHex, 'x' as unknown as Buffer, sig), false)
})

test('small-order public keys never verify', () => {
  const msg = Buffer.from('anything')
  for (const hex of ['00'.repeat(32), '00'.repeat(31) + '80', '01' + '00'.repeat(31), 'ec' + 'ff'.repeat(30) + '7f', 'ee' + 'ff'.repeat(31)]) {
    assert.equal(verifySignature(hex, msg, Buffer.alloc(64)), false, hex)
  }
})
