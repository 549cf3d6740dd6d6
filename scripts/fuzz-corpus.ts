// Seeds and mutators for fuzzing the wire: one well-formed sample of every message type (stream
// records with well-shaped but wrong signatures), and byte/JSON mutations of encoded datagrams.
// Shared by the property tests (test/mesh/messages-fuzz.test.ts) and the live fuzzer (scripts/fuzz.ts).
import type { Message } from '../src/mesh/messages.ts'
import { encodeMessage } from '../src/mesh/messages.ts'
import { seededRandom } from '../src/util/timers.ts'
import { CHUNK_SIZE } from '../src/store/stream-types.ts'

/** Deterministic PRNG: a failing seed reproduces. */
export const rng = seededRandom

const b64 = (n: number, fill = 7) => Buffer.alloc(n, fill).toString('base64')

export interface CorpusTargets {
  streamId?: string
  fileId?: string
  peers?: string[]
}

/** One sample of every message type, aimed at a stream and a file the target node carries. */
export function sampleMessages(t: CorpusTargets = {}): Message[] {
  const id = t.streamId ?? `stream/${'ab'.repeat(32)}/sky`
  const file = t.fileId ?? 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
  const peers = t.peers ?? ['127.0.0.1:9', '127.0.0.3:24254', '[::1]:24254']
  const now = Date.now()
  const sig = b64(64)
  return [
    { type: 'PleaseAlwaysReturnThisMessage', value: { cookie: 'deadbeef' } },
    { type: 'AlwaysReturned', value: { cookie: '00000000' } },
    { type: 'PleaseSendPeers' },
    { type: 'Peers', peers },
    { type: 'PleaseReturnThisMessage', value: now },
    { type: 'ReturnedMessage', value: now - 5 },
    { type: 'PleaseSendContent', id: file, offset: 0, length: 40960 },
    { type: 'PleaseSendContent', id, offset: 0, length: CHUNK_SIZE },
    { type: 'Content', id, offset: CHUNK_SIZE, data: Buffer.alloc(4096, 1), hops: 1 },
    { type: 'Content', id: file, offset: 0, data: Buffer.alloc(100, 2), eof: 100 },
    { type: 'MaybeTheyHaveSome', id: file, peers },
    { type: 'MyPublicKey', ed25519: b64(32) },
    { type: 'PleaseSendStreamHead', id },
    { type: 'ThisStreamGrew', head: { id, chunks: 1_000_000, length: 1_000_000 * CHUNK_SIZE, segments: 9999, time: now, ended: false, sig } },
    { type: 'HereIsTheStreamInfo', info: { id, format: 'ts', init: null, targetDuration: 1, created: now, sig } },
    { type: 'PleaseSendChunkHashes', id, from: 0, count: 16 },
    { type: 'HereAreChunkHashes', id, chunks: [{ n: 3, length: CHUNK_SIZE, blocks: [b64(32), b64(32), b64(32), b64(32)], sha256: b64(32), time: now, sig }] },
    { type: 'PleaseSendSegments', id, from: 0, count: 16 },
    { type: 'HereAreSegments', id, segments: [{ n: 0, offset: 0, length: 1000, duration: 1, pdt: now, discontinuity: false, sig }] },
    { type: 'IHaveChunks', id, from: 0, bits: Buffer.alloc(32, 0xff) },
    { type: 'PleaseKeepSendingMe', id, stripe: 1, from: 0 },
    { type: 'PleaseKeepSendingMe', id, stripe: 0, from: 0, failed: peers[0] },
    { type: 'IWillKeepSendingYou', id, stripe: 2 },
    { type: 'IWillKeepSendingYou', id, stripe: 3, via: peers[1] },
    { type: 'AskThemInstead', id, stripe: 3, peers },
    { type: 'StopSendingMe', id, stripe: 0 },
    { type: 'TellMeYourAudienceAtMost', id, bytesPerSecond: 117 },
    { type: 'HereIsMyAudience', id, audience: { viewers: 2, byDepth: [1, 1], onTime: 30, late: 1, missed: 0, delay: [[27, 20], [30, 11]], stalls: 0, stallSeconds: 0, up: 16384, down: 491520, fromSource: 0, versions: { '0.1.0': 2 }, suspect: 0, kids: [{ a: '127.0.0.1:4001', v: 1, h: 1 }] } },
    { type: 'WhoIsNear', id: 'cd'.repeat(32), key: 'ef'.repeat(32), pad: '.'.repeat(100) },
    { type: 'TheseAreNear', id: 'cd'.repeat(32), key: 'ef'.repeat(32), nodes: peers.map((p, i) => `${String(i).repeat(64)}@${p}`), more: true },
    { type: 'WhoHas', id: file, key: 'ef'.repeat(32) },
    { type: 'WhoHas', id },
    { type: 'TheyHave', id: file, peers, me: true },
    { type: 'IHave', id },
  ]
}

/** Path tricks a hostile peer might put where a file id goes. */
export const PATH_TRICKS = [
  '..', '../etc/passwd', '/etc/passwd', '\\windows\\win.ini', '..\\..\\x', 'shared/../../x', '%2e%2e%2fetc%2fpasswd',
  '..%2f..%2fetc', 'a\u0000b', '\u0000', '/', '\\', '.', '.hidden', 'incoming/partial', 'C:\\x', '....//....//etc',
]

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

const HOSTILE_VALUES: Json[] = [
  -1, 2 ** 53, 1e308, -0, 0.5, '', 'x'.repeat(300), '\u0000', '..', '/', '\\', null, true, [], {}, [[[[[]]]]],
  'A'.repeat(5000), '!!not base64!!', 'AAA', 'AAAA=', '====',
]

function mutateJson(v: Json, r: () => number, depth = 0): Json {
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]
  if (depth > 6 || r() < 0.15) return pick(HOSTILE_VALUES)
  if (Array.isArray(v)) {
    const out = v.map((x) => (r() < 0.5 ? mutateJson(x, r, depth + 1) : x))
    if (r() < 0.2) out.push(pick(HOSTILE_VALUES))
    if (r() < 0.1 && out.length) out.splice(Math.floor(r() * out.length), 1)
    if (r() < 0.05) return Array.from({ length: 1 + Math.floor(r() * 200) }, () => out[0] ?? null)
    return out
  }
  if (v !== null && typeof v === 'object') {
    const out: { [k: string]: Json } = {}
    for (const [k, x] of Object.entries(v)) {
      if (r() < 0.08) continue
      out[r() < 0.05 ? k.toUpperCase() : k] = r() < 0.5 ? mutateJson(x, r, depth + 1) : x
    }
    if (r() < 0.1) out[pick(['__proto__', 'constructor', 'extra', 'id', 'eof'])] = pick(HOSTILE_VALUES)
    return out
  }
  if (typeof v === 'number') return pick([v + 1, v - 1, -v, v * 1e6, 2 ** 53 + 2, 0.1, Number.MAX_SAFE_INTEGER])
  if (typeof v === 'string') {
    if (r() < 0.3) return pick(PATH_TRICKS)
    const chars = [...v]
    const i = Math.floor(r() * (chars.length + 1))
    chars.splice(i, r() < 0.5 ? 1 : 0, pick(['/', '\\', '\u0000', '=', '%', 'é', '\ud83d\ude00', 'x']))
    return chars.join('')
  }
  return pick(HOSTILE_VALUES)
}

/** One mutation of an encoded datagram: JSON-aware most of the time, raw bytes otherwise. */
export function mutateDatagram(buf: Buffer, seed: number): Buffer {
  const r = rng(seed)
  const mode = r()
  if (mode < 0.6) {
    let v: Json
    try { v = JSON.parse(buf.toString('utf8')) as Json } catch { v = null }
    return Buffer.from(JSON.stringify(mutateJson(v, r)) ?? 'null')
  }
  const out = Buffer.from(buf)
  const flips = 1 + Math.floor(r() * 8)
  for (let i = 0; i < flips && out.length; i++) out[Math.floor(r() * out.length)] = Math.floor(r() * 256)
  if (mode > 0.9) return out.subarray(0, Math.floor(r() * out.length))
  return out
}

/** A datagram made of many sample messages (as many as fit in `maxBytes`). */
export function packedDatagram(samples: Message[], r: () => number, maxBytes = 8000): Buffer {
  const parts: string[] = []
  let size = 2
  for (;;) {
    const s = JSON.stringify(encodeMessage(samples[Math.floor(r() * samples.length)]))
    if (size + s.length + 1 > maxBytes || parts.length >= 70) break
    parts.push(s)
    size += s.length + 1
  }
  return Buffer.from('[' + parts.join(',') + ']')
}
