// Ed25519 stream keys. The public key is the stream's identity (it is inside the stream id), so
// the private key is kept in one PEM file, reused across runs, and never silently replaced.
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import sodium from 'sodium-native'
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { StoreError, errnoCode, fsError } from './errors.ts'
import { fromHex } from './hashes.ts'

export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it. */
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

export interface StreamKey {
  readonly publicKeyHex: string
  sign(msg: Buffer): Buffer
}

function streamKeyFrom(privateKey: KeyObject): StreamKey {
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new StoreError('ERR_CORRUPT', 'key is not ed25519')
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' })
  const publicKeyHex = spki.subarray(SPKI_PREFIX.length).toString('hex')
  return { publicKeyHex, sign: (msg) => sign(null, msg, privateKey) }
}

/** A fresh in-memory key (tests, throwaway streams). */
export function generateStreamKey(): StreamKey {
  return streamKeyFrom(generateKeyPairSync('ed25519').privateKey)
}

export { defaultKeyDir } from './key-paths.ts'

/** Loads the PKCS#8 PEM key at `file`, or creates it (mode 0600) when absent. A file that exists
 * but cannot be parsed is an error, not a reason to make a new key: that would change the id.
 * `onCreate` hears of a key made here (the caller says where it is, once). */
export async function loadOrCreateKey(file: string, onCreate: (file: string) => void = () => {}): Promise<StreamKey> {
  const existing = await readKeyFile(file)
  if (existing) return existing
  const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' })
  // Write to a temp file and hard-link it into place: the key file appears whole or not at all,
  // and if another process won the race we use its key instead of overwriting it.
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`
  try {
    // The folder holds private keys: only its owner may list it.
    await mkdir(dirname(file), { recursive: true, mode: 0o700 })
    await writeFile(tmp, pem, { mode: 0o600, flag: 'wx', flush: true })
    const won = await link(tmp, file).then(() => true, (err: unknown) => {
      if (errnoCode(err) !== 'EEXIST') throw err
      return false
    })
    if (won) onCreate(file)
  } catch (err) {
    throw fsError(err, `creating key file ${file}`)
  } finally {
    await unlink(tmp).catch(() => {})
  }
  const created = await readKeyFile(file)
  if (!created) throw new StoreError('ERR_IO', `key file ${file} vanished after creation`)
  return created
}

async function readKeyFile(file: string): Promise<StreamKey | null> {
  let pem: string
  try {
    pem = await readFile(file, 'utf8')
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null
    throw fsError(err, `reading key file ${file}`)
  }
  try {
    return streamKeyFrom(createPrivateKey({ key: pem, format: 'pem' }))
  } catch (err) {
    throw new StoreError('ERR_CORRUPT', `key file ${file} is not an ed25519 PKCS#8 PEM key`, { cause: err })
  }
}

/** Encodings (sign bit cleared) of the small-order Ed25519 points, as libsodium lists them. A key
 * of small order lets anyone forge signatures (OpenSSL accepts an all-zero key with an all-zero
 * signature), so a stream id built on one has no owner and its records must never verify. */
const SMALL_ORDER_KEYS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((h) => Buffer.from(h, 'hex'))

export function isSmallOrderKey(raw: Uint8Array): boolean {
  const masked = Buffer.from(raw)
  masked[31] &= 0x7f
  return SMALL_ORDER_KEYS.some((k) => k.equals(masked))
}

/** Public keys by hex, raw, once OpenSSL took them as keys (null: it did not, or of small order).
 * Capped because the hex comes from remote stream ids; 1024 streams is far more than one node
 * follows, and a miss only costs a re-import. */
const MAX_CACHED_KEYS = 1024
const keyCache = new Map<string, Buffer | null>()

function publicKeyFromHex(publicKeyHex: string): Buffer | null {
  const hit = keyCache.get(publicKeyHex)
  if (hit !== undefined) {
    keyCache.delete(publicKeyHex)
    keyCache.set(publicKeyHex, hit)
    return hit
  }
  const raw = fromHex(publicKeyHex, PUBLIC_KEY_BYTES)
  let key: Buffer | null = null
  if (raw && !isSmallOrderKey(raw)) {
    try {
      createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
      key = raw
    } catch {
      key = null
    }
  }
  if (keyCache.size >= MAX_CACHED_KEYS) keyCache.delete(keyCache.keys().next().value as string)
  keyCache.set(publicKeyHex, key)
  return key
}

/** True only for a valid Ed25519 signature; false (never a throw) for any malformed input. Checked
 * by libsodium: half the CPU of node:crypto's verify (100 against 210 us here, one check per chunk
 * record a relay takes), and stricter, never laxer (it also refuses a non-canonical S, R or key
 * and a small-order R, which no honest signer produces). */
export function verifySignature(publicKeyHex: string, msg: Buffer, sig: Uint8Array): boolean {
  if (typeof publicKeyHex !== 'string' || publicKeyHex.length !== PUBLIC_KEY_BYTES * 2) return false
  if (!(sig instanceof Uint8Array) || sig.length !== SIGNATURE_BYTES || !(msg instanceof Uint8Array)) return false
  const key = publicKeyFromHex(publicKeyHex)
  if (!key) return false
  try {
    return sodium.crypto_sign_verify_detached(sig, msg, key)
  } catch {
    return false
  }
}
