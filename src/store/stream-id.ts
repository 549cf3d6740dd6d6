// Stream ids: `stream/<64 lowercase hex ed25519 public key>/<name>`. Parsing is strict so one
// stream has exactly one spelling (map keys, directory names and signatures all depend on it).
import { StoreError } from './errors.ts'
import type { StreamId } from './stream-types.ts'

const NAME_RE = /^[A-Za-z0-9._-]{1,64}$/
const ID_RE = /^stream\/([0-9a-f]{64})\/([A-Za-z0-9._-]{1,64})$/

export function isValidStreamName(name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name) && name !== '.' && name !== '..'
}

export function makeStreamId(publicKeyHex: string, name: string): StreamId {
  if (typeof publicKeyHex !== 'string' || !/^[0-9a-f]{64}$/.test(publicKeyHex)) {
    throw new StoreError('ERR_BAD_ID', 'stream public key must be 64 lowercase hex characters')
  }
  if (!isValidStreamName(name)) {
    throw new StoreError('ERR_BAD_ID', `bad stream name ${JSON.stringify(name)}: use 1..64 of [A-Za-z0-9._-], not . or ..`)
  }
  return `stream/${publicKeyHex}/${name}`
}

export function parseStreamId(id: unknown): { publicKeyHex: string; name: string } | null {
  if (typeof id !== 'string' || id.length > 200) return null
  const m = ID_RE.exec(id)
  if (!m || !isValidStreamName(m[2])) return null
  return { publicKeyHex: m[1], name: m[2] }
}

export function isStreamId(id: unknown): id is StreamId {
  return parseStreamId(id) !== null
}
