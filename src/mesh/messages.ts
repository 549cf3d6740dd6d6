// The message table: every cjp2p message we understand, decoded from untrusted JSON into a typed
// value or dropped. Nothing else in the project calls JSON.parse on a datagram.
//
// Framing (PROTOCOL.md): one UDP datagram carries one UTF-8 JSON array of single-key objects. Unknown
// types and unknown fields are skipped; a known type with a missing or ill-typed field is skipped
// alone; anything that is not a JSON array is dropped whole.
import type { ChunkRecord, SegmentRecord, StreamHead, StreamInfo } from '../store/stream-types.ts'
import { countsOf, sanitize, type AudienceCounts, type AudienceSummary } from './telemetry/audience-summary.ts'
import { isLanAddress } from './nat/lan-address.ts'
import {
  MAX_CHUNK_INDEX, MAX_SEGMENT_INDEX, isChunkRecordShape, isSegmentRecordShape, isStreamHeadShape, isStreamInfoShape, pickChunkRecord, pickSegmentRecord, pickStreamHead, pickStreamInfo,
} from '../store/record-shape.ts'
import { MAX_NAME_CHARS } from '../store/file-names.ts'

export { DEFAULT_UDP_PORT, DEFAULT_HTTP_PORT } from './default-ports.ts'
/** Data moves in 4096-byte blocks; clients count a block only if it is this long or ends at eof.
 * (Defined with the chunk size, in the store, once.) */
export { BLOCK_SIZE } from '../store/stream-types.ts'
/** Servers clamp a request's length to this, as the reference node does. */
export const MAX_REQUEST_LENGTH = 0xa000
/** The largest UDP payload; anything claiming more is not a datagram we could have received. */
export const MAX_DATAGRAM_BYTES = 65507
/** More messages than this in one datagram is an attack, not a conversation. */
export const MAX_MESSAGES_PER_DATAGRAM = 64
/** Peer lists longer than this carry no extra value and cost memory to process. */
export const MAX_PEERS_PER_LIST = 64
/** The largest room (`PleaseKeepSendingMe.room`, `below`) a subscription may tell: more children
 * than any subtree a redirect could lead into. */
export const MAX_ROOM = 10_000
/** Ancestors a parent names in its answer (`IWillKeepSendingYou.path`): deeper than any tree a
 * stripe forms with a sane fan-out, so a cycle through a re-parented relay shows within it. */
export const MAX_PATH = 16
/** The largest telemetry grant (`TellMeYourAudienceAtMost.bytesPerSecond`): the 0.65 % a parent
 * shares among its children, of a 1 Gb/s stream, is 812 kB/s. */
export const MAX_GRANT_BPS = 1_000_000
/** The largest stream tag (`TellMeYourAudienceAtMost.tag`): a node numbers the streams it carries,
 * a few at most, and a tag past this is no tag a node gave. */
export const MAX_STREAM_TAG = 65_535
/** Ids are a sha256 hex, a plain file name or a stream id; 256 covers them all. */
export const MAX_ID_LENGTH = 256
/** A cookie or echo value larger than this is not stored or echoed (it would inflate every reply). */
export const MAX_OPAQUE_JSON_BYTES = 256
/** Records per HereAreChunkHashes / HereAreSegments: keeps a reply near one 4 KiB block. */
export const MAX_RECORDS_PER_MESSAGE = 16
/** Bytes of an IHaveChunks bitmap: 256 bytes cover 2048 chunks (32 MiB of stream). */
export const MAX_HAVE_BITMAP_BYTES = 256
/** Stripes of a stream's push tree (SplitStream-style): chunk n travels in stripe n % STRIPES. */
export const STRIPES = 4
/** Largest chunk or segment position a peer may name: one past the largest index a signed record
 * may carry (record-shape.ts defines those bounds, once), so a `from` can name the live edge. It
 * keeps `from + count` exact (near 2^53, n++ stops changing n and a loop over a range never ends). */
export const MAX_INDEX = Math.max(MAX_CHUNK_INDEX, MAX_SEGMENT_INDEX) + 1
/** A Noise XX handshake message with our identity payload is under 300 bytes. */
export const MAX_HANDSHAKE_BYTES = 512
/** Contacts per TheseAreNear: a lookup needs about k of them, and 16 keeps a reply near 1.5 KB. */
export const MAX_NEAR_NODES = 16
/** Providers per TheyHave: a download wants a handful; more would only inflate the reply. */
export const MAX_PROVIDERS_PER_REPLY = 16
/** A WhoIsNear/WhoHas may carry padding so that the asker, not the answerer, pays for the bytes
 * the 2x rule lets come back; more than a small datagram's worth earns nothing. */
export const MAX_PAD_CHARS = 512
/** Named items per TheseAreNamed / HereIsWhatIHave: 16 names of 255 characters still fit a small datagram's ~5.8 KB only
 * barely, and a search or a listing pages on (or asks more nodes) rather than growing one reply. */
export const MAX_NAMED_ITEMS = 16
/** Providers' addresses per named item in a search answer: enough to count a few and start a get. */
export const MAX_NAMED_PEERS = 4

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** A stream named by its id, or by the tag its receiver gave it (`TellMeYourAudienceAtMost.tag`). */
export type StreamRef = { id: string; tag?: never } | { tag: number; id?: never }

export type Message =
  | { type: 'PleaseAlwaysReturnThisMessage'; value: Json }
  | { type: 'AlwaysReturned'; value: Json }
  | { type: 'PleaseSendPeers' }
  | { type: 'Peers'; peers: string[] }
  | { type: 'PleaseReturnThisMessage'; value: Json }
  | { type: 'ReturnedMessage'; value: Json }
  | { type: 'PleaseSendContent'; id: string; offset: number; length: number }
  | { type: 'Content'; id: string; offset: number; data: Buffer; eof?: number; hops?: number; repaired?: boolean }
  | { type: 'MaybeTheyHaveSome'; id: string; peers: string[] }
  /** `proof` (ours): a signature over a nonce the receiver sent in PleaseProveYourKey. */
  | { type: 'MyPublicKey'; ed25519?: string; ed25519h?: string; proof?: { nonce: string; sig: string } }
  // The live-stream extension (PROTOCOL-STREAM.md). Peers that do not know these skip them.
  | { type: 'PleaseSendStreamHead'; id: string }
  | { type: 'ThisStreamGrew'; head: StreamHead }
  | { type: 'HereIsTheStreamInfo'; info: StreamInfo }
  | { type: 'PleaseSendChunkHashes'; id: string; from: number; count: number }
  | { type: 'HereAreChunkHashes'; id: string; chunks: ChunkRecord[] }
  | { type: 'PleaseSendSegments'; id: string; from: number; count: number }
  | { type: 'HereAreSegments'; id: string; segments: SegmentRecord[] }
  | { type: 'IHaveChunks'; id: string; from: number; bits: Buffer }
  /** `failed`: our parent in this stripe, which stopped feeding us; sent to its own parent. */
  | { type: 'PleaseKeepSendingMe'; id: string; stripe: number; from: number; failed?: string; leaf?: boolean; room?: number; below?: number; reports?: boolean }
  /** `via`: the sender's own parent in this stripe (absent at the source): where to complain.
   * `late`: unasked, to a child: the sender's own feed in this stripe stopped (its parent is late
   * or gone) and it is finding another; the child waits for it instead of leaving it too.
   * `catchUpBy`: the child it pushed down for us holds our catch-up and pushes it to us (below). */
  | { type: 'IWillKeepSendingYou'; id: string; stripe: number; via?: string; path?: string[]; late?: true; catchUpBy?: string }
  /** `handOver`, from our parent, pushing us down: push `peers[0]` (our successor) the chunks of
   * the stripe we hold from this one on, its catch-up (docs/SCHEDULER.md, "Session 10"). */
  | { type: 'AskThemInstead'; id: string; stripe: number; peers: string[]; handOver?: number }
  | { type: 'StopSendingMe'; id: string; stripe: number }
  /** A viewer's summary of itself and its subtree, sent to its report parent (the stripe where it sits highest) (src/mesh/telemetry/).
   * `counts`: only the viewer counts changed, and only they are sent; the parent keeps the other
   * figures it last had. The stream is named by its id, or by the `tag` the parent's grant gave it. */
  | ({ type: 'HereIsMyAudience'; audience: AudienceSummary | AudienceCounts; counts?: true } & StreamRef)
  /** A report parent's grant to one child: the telemetry bytes a second it may send it, its share
   * of what the parent lets all its children send (src/mesh/telemetry/audience-grants.ts); `tag`:
   * the parent's number for the stream, which the child's summaries may name it by instead of its
   * id. A stream id is some 100 bytes, and a summary of the counts alone some 80 more: at 500 kb/s
   * the only child of the source was granted some 120 B/s, and its counts took all of it. A child
   * that names the stream by the tag holds it: its next grants name the stream by the tag alone. */
  | ({ type: 'TellMeYourAudienceAtMost'; bytesPerSecond: number } & ({ id: string; tag?: number } | { tag: number; id?: never }))
  /** Says which extensions we speak and the largest datagram we take, so our own peers can use
   * larger replies and batched requests; other implementations skip it. */
  | { type: 'IAlsoSpeak'; extensions: string[]; maxDatagramBytes: number }
  // Distributed discovery (the DHT, src/mesh/dht/). Ids of the node space are 64 hex (sha256 of a
  // node's public key, or of a content id); `key` is the sender's ed25519 public key hex, and a
  // contact is written `<public key hex>@<address>`.
  | { type: 'WhoIsNear'; id: string; key?: string; pad?: string }
  /** `more`: the answer was cut to fit the 2x rule; asked again (now proven), the answerer says all. */
  | { type: 'TheseAreNear'; id: string; key: string; nodes: string[]; more?: boolean }
  | { type: 'WhoHas'; id: string; key?: string; pad?: string }
  /** `me`: the answerer provides it too (it cannot know its own address as the asker sees it). */
  | { type: 'TheyHave'; id: string; peers: string[]; me?: boolean }
  | { type: 'IHave'; id: string }
  // Names and search (src/mesh/dht/name-index.ts): keyword announcements sit in the DHT at
  // sha256("word/<word>"); a listing asks one peer what it shares.
  /** The sender shares `id` under `name`, whose words include `word`. */
  | { type: 'IHaveNamed'; word: string; id: string; name: string; size: number }
  | { type: 'WhoHasNamed'; word: string; key?: string; pad?: string }
  /** Named items the answerer holds for `word`; `providers`: how many addresses announced each. */
  | { type: 'TheseAreNamed'; word: string; items: NamedItem[] }
  /** What do you share? `from`: the position to go on from (a listing pages). */
  | { type: 'PleaseListWhatYouHave'; from: number }
  /** `next`: the position to ask from for more; absent on the last page. */
  | { type: 'HereIsWhatIHave'; from: number; items: NamedItem[]; next?: number }
  // NAT traversal (src/mesh/nat/). Addresses are as the sender sees them on its socket.
  /** The address the sender sees this datagram's receiver at: its public mapping behind a NAT. */
  | { type: 'ISeeYouAt'; addr: string }
  /** What the sender learned about its own NAT from such reports (docs/PROTOCOL.md). */
  /** `local`: the sender's own LAN address (behind a NAT), for peers behind the same router. */
  | { type: 'IAmBehind'; nat: NatKind; local?: string; mapped?: string }
  /** Asks a peer both sides talk to to tell `to` to send to the asker: a hole punch. `birthday`:
   * the asker is behind a symmetric NAT and asks for a birthday punch (src/mesh/nat/birthday-punch.ts). */
  | { type: 'PleaseIntroduceMe'; to: string; birthday?: true }
  /** Send a hello to `peer` now: it is sending to you at the same time. `birthday`: which side of
   * a birthday punch to take, `hard` (many sockets) or `easy` (many ports). */
  | { type: 'SayHelloTo'; peer: string; birthday?: BirthdaySide }
  /** To the introducer of a birthday punch, from its hard side: the punch with `peer` met. */
  | { type: 'PunchMet'; peer: string }
  /** Sign this nonce with your node key (answered with MyPublicKey and its `proof`). */
  | { type: 'PleaseProveYourKey'; nonce: string }
  // Encryption between our peers (src/mesh/secure/): a Noise XX handshake, message `step` of 3;
  // `index` is the sender's session index, which sealed frames to it carry.
  | { type: 'LetUsEncrypt'; step: 1 | 2 | 3; index: number; hs: Buffer }

export type MessageType = Message['type']

/** A shared file as names and search show it. `providers` and `peers` only in search answers. */
export interface NamedItem { id: string; name: string; size: number; providers?: number; peers?: string[] }

/** A node's NAT as its peers' reports show it: `none` (its socket's own address is what peers see),
 * `cone` (one public mapping for every destination), `symmetric` (a mapping per destination:
 * nobody it did not contact first can reach it). */
export type NatKind = 'none' | 'cone' | 'symmetric'
/** The sides of a birthday punch: `hard` behind the symmetric NAT, `easy` behind the cone. */
export type BirthdaySide = 'hard' | 'easy'
const NAT_KINDS: readonly string[] = ['none', 'cone', 'symmetric']

/** Our extension's message types: a peer that sends one is a cjp2p-stream node. */
export const STREAM_EXTENSION: ReadonlySet<MessageType> = new Set<MessageType>([
  'PleaseSendStreamHead', 'ThisStreamGrew', 'HereIsTheStreamInfo', 'PleaseSendChunkHashes', 'HereAreChunkHashes',
  'PleaseSendSegments', 'HereAreSegments', 'IHaveChunks', 'PleaseKeepSendingMe', 'IWillKeepSendingYou',
  'AskThemInstead', 'StopSendingMe', 'HereIsMyAudience', 'TellMeYourAudienceAtMost', 'WhoIsNear', 'TheseAreNear', 'WhoHas', 'TheyHave', 'IHave',
  'IHaveNamed', 'WhoHasNamed', 'TheseAreNamed', 'PleaseListWhatYouHave', 'HereIsWhatIHave',
  'ISeeYouAt', 'IAmBehind', 'PleaseIntroduceMe', 'SayHelloTo', 'PunchMet', 'PleaseProveYourKey', 'LetUsEncrypt',
])

/** The extension name we announce in IAlsoSpeak. */
export const OUR_EXTENSION = 'cjp2p-stream/1'
/** Also announced: we take a telemetry grant that names its stream by the tag alone
 * (`TellMeYourAudienceAtMost`). Builds before it drop one as bad, and their grant stayed at its first
 * value: a parent grants by the tag alone only to a peer that announced this. */
export const GRANT_BY_TAG = 'cjp2p-stream/grant-by-tag'
/** Also announced: our birthday punches say when they met (`PunchMet`). An introducer counts such a
 * node's punch as a path only on that word; a build before it, BIRTHDAY_SETTLE_MS after the
 * introduction, met or not. */
export const PUNCH_MET = 'cjp2p-stream/punch-met'
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>

export type DecodeDrop = 'oversize' | 'not_utf8' | 'not_json' | 'not_array' | 'too_many_messages'
export type DecodeResult =
  | { ok: true; messages: Message[]; skipped: { unknown: number; bad: number } }
  | { ok: false; reason: DecodeDrop }

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const isUint = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0
const isId = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH
const isIndex = (v: unknown): v is number => isUint(v) && v <= MAX_INDEX
const isStreamTag = (v: unknown): v is number => isUint(v) && v <= MAX_STREAM_TAG
/** Strict padded base64 to bytes, or undefined. Node's decoder skips characters outside the
 * alphabet and stops at '=', so a decoded length short of what the text's length promises means a
 * stray character; the URL-safe '-' and '_' it also takes are looked for apart, and re-encoding the
 * last group catches non-zero trailing bits. All native scans: a full decode/re-encode round trip
 * of every 40 KiB block showed in profiles. */
function decodeB64(v: unknown, maxChars: number): Buffer | undefined {
  if (typeof v !== 'string' || v.length > maxChars || v.length % 4 !== 0) return undefined
  const pad = v.endsWith('==') ? 2 : v.endsWith('=') ? 1 : 0
  const buf = Buffer.from(v, 'base64')
  if (buf.length !== (v.length / 4) * 3 - pad || v.includes('-') || v.includes('_')) return undefined
  if (pad > 0 && buf.subarray(buf.length - (3 - pad)).toString('base64') !== v.slice(-4)) return undefined
  return buf
}
const isB64 = (v: unknown, maxChars: number): v is string => decodeB64(v, maxChars) !== undefined
const b64Bytes = (v: string, bytes: number) => decodeB64(v, 4 * Math.ceil(bytes / 3))?.length === bytes
const HEX64 = /^[0-9a-f]{64}$/i
/** A key-proof nonce: 16 random bytes in lower-case hex. */
const NONCE = /^[0-9a-f]{32}$/
/** An address as peers write it: `<dotted IPv4>:<port>` or `[<IPv6>]:<port>`. */
const ADDR = /^(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:.]{2,45}\]):\d{1,5}$/

export function isAddress(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 56 || !ADDR.test(v)) return false
  const port = Number(v.slice(v.lastIndexOf(':') + 1))
  if (port < 1 || port > 65535) return false
  if (v.startsWith('[')) return true
  return v.slice(0, v.lastIndexOf(':')).split('.').every((o) => Number(o) <= 255)
}

function opaque(v: unknown): Json | undefined {
  // Cookies and echoes are stored and returned verbatim, so their size must be bounded (in bytes,
  // not UTF-16 units). JSON.parse is iterative but stringify recurses: a deeply nested value
  // overflows the stack, and such a value is hostile anyway.
  let s: string | undefined
  try { s = JSON.stringify(v) } catch { return undefined }
  return s !== undefined && Buffer.byteLength(s) <= MAX_OPAQUE_JSON_BYTES ? (v as Json) : undefined
}

function peerList(v: unknown): string[] | undefined {
  if (!Array.isArray(v)) return undefined
  // Invalid entries are dropped one by one: one bad address should not cost the whole list.
  return v.slice(0, MAX_PEERS_PER_LIST).filter(isAddress)
}

// Stream records are checked by the store's one validator (limits, hash and signature encodings),
// so the wire, the journal and verification never disagree about what a well-formed record is.
const chunkRecord = (v: unknown): ChunkRecord | undefined => (isChunkRecordShape(v) ? pickChunkRecord(v) : undefined)
const segmentRecord = (v: unknown): SegmentRecord | undefined => (isSegmentRecordShape(v) ? pickSegmentRecord(v) : undefined)
const streamHead = (v: unknown): StreamHead | undefined => (isStreamHeadShape(v) ? pickStreamHead(v) : undefined)
const streamInfo = (v: unknown): StreamInfo | undefined => (isStreamInfoShape(v) ? pickStreamInfo(v) : undefined)

function records<T>(v: unknown, one: (x: unknown) => T | undefined): T[] | undefined {
  if (!Array.isArray(v) || v.length > MAX_RECORDS_PER_MESSAGE) return undefined
  const out = v.map(one)
  return out.every((x) => x !== undefined) ? (out as T[]) : undefined
}

const isHex64 = (v: unknown): v is string => typeof v === 'string' && HEX64.test(v)
/** `<public key hex>@<address>`, lower-cased; anything else is dropped from the list alone. */
export function isContact(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > 64 + 1 + 56 || v[64] !== '@') return false
  return /^[0-9a-f]{64}$/.test(v.slice(0, 64)) && isAddress(v.slice(65))
}
function question(b: unknown, isTarget: (v: unknown) => v is string, norm: (id: string) => string): { id: string; key?: string } | undefined {
  if (!isObj(b) || !isTarget(b.id)) return undefined
  // The pad is there to be paid for, not read; an ill-formed key only loses the asker its table slot.
  if (b.pad !== undefined && (typeof b.pad !== 'string' || b.pad.length > MAX_PAD_CHARS)) return undefined
  return { id: norm(b.id), key: isHex64(b.key) ? b.key.toLowerCase() : undefined }
}

/** A search word: lower-case letters and digits (name-words.ts makes them), 2 to 32 of them. */
const WORD = /^[\p{Ll}\p{Lo}\p{Lm}\p{N}]{2,32}$/u
const isWord = (v: unknown): v is string => typeof v === 'string' && WORD.test(v)
function namedItem(b: Obj): NamedItem | undefined {
  const { id, name, size } = b
  // eslint-disable-next-line no-control-regex
  if (!isId(id) || typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_CHARS || /[\u0000-\u001f\u007f/\\]/.test(name) || !isUint(size)) return undefined
  const item: NamedItem = { id, name, size }
  if (isUint(b.providers)) item.providers = b.providers
  if (Array.isArray(b.peers)) item.peers = b.peers.slice(0, MAX_NAMED_PEERS).filter(isAddress)
  return item
}
/** A list of named items; ill-formed ones are dropped alone. */
function namedItems(v: unknown): NamedItem[] | undefined {
  if (!Array.isArray(v)) return undefined
  return v.slice(0, MAX_NAMED_ITEMS).map((e) => (isObj(e) ? namedItem(e) : undefined)).filter((e): e is NamedItem => e !== undefined)
}

const idStripe = (b: Obj) => (isId(b.id) && isUint(b.stripe) && b.stripe < STRIPES ? { id: b.id, stripe: b.stripe } : undefined)

/** One decoder per message type: the body of `{"Type": body}` to a typed message, or undefined. */
const decoders: { [T in MessageType]: (body: unknown) => Omit<MessageOf<T>, 'type'> | undefined } = {
  PleaseAlwaysReturnThisMessage: (b) => { const value = opaque(b); return value === undefined ? undefined : { value } },
  AlwaysReturned: (b) => { const value = opaque(b); return value === undefined ? undefined : { value } },
  PleaseSendPeers: () => ({}),
  Peers: (b) => { const peers = isObj(b) ? peerList(b.peers) : undefined; return peers && { peers } },
  PleaseReturnThisMessage: (b) => { const value = opaque(b); return value === undefined ? undefined : { value } },
  ReturnedMessage: (b) => { const value = opaque(b); return value === undefined ? undefined : { value } },
  PleaseSendContent: (b) =>
    isObj(b) && isId(b.id) && isUint(b.offset) && isUint(b.length) ? { id: b.id, offset: b.offset, length: b.length } : undefined,
  Content: (b) => contentBody(b, isObj(b) ? decodeB64(b.base64, 4 * Math.ceil(MAX_REQUEST_LENGTH / 3)) : undefined),
  MaybeTheyHaveSome: (b) => {
    if (!isObj(b) || !isId(b.id)) return undefined
    const peers = peerList(b.peers)
    return peers && { id: b.id, peers }
  },
  MyPublicKey: (b) => {
    if (!isObj(b)) return undefined
    const ed25519 = isB64(b.ed25519, 44) && b64Bytes(b.ed25519, 32) ? b.ed25519 : undefined
    const ed25519h = typeof b.ed25519h === 'string' && HEX64.test(b.ed25519h) ? b.ed25519h.toLowerCase() : undefined
    // An ill-formed proof is dropped alone: the key is still the (unproven) claim it always was.
    const p = b.proof
    const proof = isObj(p) && typeof p.nonce === 'string' && NONCE.test(p.nonce) && isB64(p.sig, 88) && b64Bytes(p.sig, 64) ? { nonce: p.nonce, sig: p.sig } : undefined
    return ed25519 || ed25519h ? { ed25519, ed25519h, ...(proof ? { proof } : {}) } : undefined
  },
  PleaseSendStreamHead: (b) => (isObj(b) && isId(b.id) ? { id: b.id } : undefined),
  ThisStreamGrew: (b) => { const head = streamHead(b); return head && { head } },
  HereIsTheStreamInfo: (b) => { const info = streamInfo(b); return info && { info } },
  PleaseSendChunkHashes: (b) =>
    isObj(b) && isId(b.id) && isIndex(b.from) && isUint(b.count) ? { id: b.id, from: b.from, count: b.count } : undefined,
  HereAreChunkHashes: (b) => {
    if (!isObj(b) || !isId(b.id)) return undefined
    const chunks = records(b.chunks, chunkRecord)
    return chunks && { id: b.id, chunks }
  },
  PleaseSendSegments: (b) =>
    isObj(b) && isId(b.id) && isIndex(b.from) && isUint(b.count) ? { id: b.id, from: b.from, count: b.count } : undefined,
  HereAreSegments: (b) => {
    if (!isObj(b) || !isId(b.id)) return undefined
    const segments = records(b.segments, segmentRecord)
    return segments && { id: b.id, segments }
  },
  IHaveChunks: (b) => {
    const bits = isObj(b) ? decodeB64(b.bits, 4 * Math.ceil(MAX_HAVE_BITMAP_BYTES / 3)) : undefined
    return bits && isObj(b) && isId(b.id) && isIndex(b.from) ? { id: b.id, from: b.from, bits } : undefined
  },
  IAlsoSpeak: (b) => {
    if (!isObj(b) || !Array.isArray(b.extensions) || !isUint(b.maxDatagramBytes)) return undefined
    const extensions = b.extensions.slice(0, 8).filter((e): e is string => typeof e === 'string' && e.length <= 32)
    return { extensions, maxDatagramBytes: Math.min(b.maxDatagramBytes, MAX_DATAGRAM_BYTES) }
  },
  PleaseKeepSendingMe: (b) => {
    const s = isObj(b) ? idStripe(b) : undefined
    if (!s || !isIndex((b as Obj).from)) return undefined
    // An optional address that is not one is dropped alone; the subscription still stands.
    const failed = isAddress((b as Obj).failed) ? (b as Obj).failed as string : undefined
    // Places the sender says it (and its subtree) could still take in the stripe: only ever an
    // order for redirects (stream-policy.ts decideChild), bounded so a liar's figure stays a number.
    const room = isUint((b as Obj).room) ? Math.min((b as Obj).room as number, MAX_ROOM) : undefined
    const below = isUint((b as Obj).below) ? Math.min((b as Obj).below as number, MAX_ROOM) : undefined
    return { ...s, from: (b as Obj).from as number, ...(failed ? { failed } : {}), ...((b as Obj).leaf === true ? { leaf: true } : {}), ...(room !== undefined ? { room } : {}), ...(below !== undefined ? { below } : {}), ...((b as Obj).reports === true ? { reports: true } : {}) }
  },
  IWillKeepSendingYou: (b) => {
    const s = isObj(b) ? idStripe(b) : undefined
    const via = s && isAddress((b as Obj).via) ? (b as Obj).via as string : undefined
    const path = s && Array.isArray((b as Obj).path) ? ((b as Obj).path as unknown[]).slice(0, MAX_PATH).filter(isAddress) : undefined
    const catchUpBy = s && isAddress((b as Obj).catchUpBy) ? (b as Obj).catchUpBy as string : undefined
    return s && { ...s, ...(via ? { via } : {}), ...(path?.length ? { path } : {}), ...((b as Obj).late === true ? { late: true as const } : {}), ...(catchUpBy ? { catchUpBy } : {}) }
  },
  AskThemInstead: (b) => {
    const s = isObj(b) ? idStripe(b) : undefined
    const peers = s && peerList((b as Obj).peers)
    // A bad index is dropped alone: the redirect still stands.
    const handOver = s && isIndex((b as Obj).handOver) ? (b as Obj).handOver as number : undefined
    return s && peers && { ...s, peers, ...(handOver !== undefined ? { handOver } : {}) }
  },
  StopSendingMe: (b) => (isObj(b) ? idStripe(b) : undefined),
  HereIsMyAudience: (b) => {
    const ref: StreamRef | undefined = !isObj(b) ? undefined : isId(b.id) ? { id: b.id } : isStreamTag(b.tag) ? { tag: b.tag } : undefined
    const audience = ref && sanitize((b as Obj).audience, { isAddress })
    if (!audience) return undefined
    if ((b as Obj).counts !== true) return { ...ref, audience }
    // The counts alone, as they came: filled out to a whole summary, a receiver measured them at
    // 2.4 times their bytes on the wire (216 for 89), and 50 real viewer processes read their
    // busiest relay's telemetry at 1.0-1.4 % of its stream (the simulator, which hands messages
    // over undecoded, at 0.7 %).
    return { ...ref, audience: countsOf(audience), counts: true as const }
  },
  // Hundredths of a byte a second are meaningful (audience-grants.ts share()); past MAX_GRANT_BPS
  // the figure is no grant a parent computes, and the message is dropped as bad.
  // Named by the id (a tag beside it is dropped alone if bad), or by the tag alone.
  TellMeYourAudienceAtMost: (b) => {
    if (!isObj(b) || typeof b.bytesPerSecond !== 'number' || !Number.isFinite(b.bytesPerSecond) || b.bytesPerSecond < 0 || b.bytesPerSecond > MAX_GRANT_BPS) return undefined
    const bytesPerSecond = b.bytesPerSecond
    if (isId(b.id)) return { id: b.id, bytesPerSecond, ...(isStreamTag(b.tag) ? { tag: b.tag } : {}) }
    return b.id === undefined && isStreamTag(b.tag) ? { tag: b.tag, bytesPerSecond } : undefined
  },
  WhoIsNear: (b) => question(b, isHex64, (id) => id.toLowerCase()),
  TheseAreNear: (b) => {
    if (!isObj(b) || !isHex64(b.id) || !isHex64(b.key) || !Array.isArray(b.nodes)) return undefined
    return { id: b.id.toLowerCase(), key: b.key.toLowerCase(), nodes: b.nodes.slice(0, MAX_NEAR_NODES).filter(isContact), more: b.more === true ? true : undefined }
  },
  // Content ids are case-sensitive (a stream's name), so this one is taken as written.
  WhoHas: (b) => question(b, isId, (id) => id),
  TheyHave: (b) => {
    if (!isObj(b) || !isId(b.id) || !Array.isArray(b.peers)) return undefined
    return { id: b.id, peers: b.peers.slice(0, MAX_PROVIDERS_PER_REPLY).filter(isAddress), me: b.me === true ? true : undefined }
  },
  IHave: (b) => (isObj(b) && isId(b.id) ? { id: b.id } : undefined),
  IHaveNamed: (b) => {
    const item = isObj(b) ? namedItem(b) : undefined
    return item && isWord((b as Obj).word) ? { word: (b as Obj).word as string, id: item.id, name: item.name, size: item.size } : undefined
  },
  WhoHasNamed: (b) => {
    const q = question(isObj(b) ? { ...b, id: b.word } : b, isWord, (w) => w)
    return q && { word: q.id, ...(q.key ? { key: q.key } : {}) }
  },
  TheseAreNamed: (b) => {
    const items = isObj(b) && isWord(b.word) ? namedItems(b.items) : undefined
    return items && { word: (b as Obj).word as string, items }
  },
  PleaseListWhatYouHave: (b) => (isObj(b) && isUint(b.from) ? { from: b.from } : undefined),
  HereIsWhatIHave: (b) => {
    const items = isObj(b) && isUint(b.from) ? namedItems(b.items) : undefined
    if (!items) return undefined
    const next = isUint((b as Obj).next) ? (b as Obj).next as number : undefined
    return { from: (b as Obj).from as number, items, ...(next !== undefined ? { next } : {}) }
  },
  ISeeYouAt: (b) => (isObj(b) && isAddress(b.addr) ? { addr: b.addr } : undefined),
  IAmBehind: (b) => {
    if (!isObj(b) || typeof b.nat !== 'string' || !NAT_KINDS.includes(b.nat)) return undefined
    return { nat: b.nat as NatKind, ...(typeof b.local === 'string' && isLanAddress(b.local) ? { local: b.local } : {}), ...(isAddress(b.mapped) ? { mapped: b.mapped } : {}) }
  },
  PleaseIntroduceMe: (b) => (isObj(b) && isAddress(b.to) ? { to: b.to, ...(b.birthday === true ? { birthday: true as const } : {}) } : undefined),
  SayHelloTo: (b) => (isObj(b) && isAddress(b.peer) ? { peer: b.peer, ...(b.birthday === 'hard' || b.birthday === 'easy' ? { birthday: b.birthday } : {}) } : undefined),
  PunchMet: (b) => (isObj(b) && isAddress(b.peer) ? { peer: b.peer } : undefined),
  LetUsEncrypt: (b) => {
    const hs = isObj(b) ? decodeB64(b.hs, 4 * Math.ceil(MAX_HANDSHAKE_BYTES / 3)) : undefined
    if (!hs || !isObj(b) || (b.step !== 1 && b.step !== 2 && b.step !== 3) || !isUint(b.index) || b.index > 0xffffffff) return undefined
    return { step: b.step, index: b.index, hs }
  },
  PleaseProveYourKey: (b) => (isObj(b) && typeof b.nonce === 'string' && NONCE.test(b.nonce) ? { nonce: b.nonce } : undefined),
}

function fromTail(b: Obj, tail: { buf: Buffer; at: number }): Omit<MessageOf<'Content'>, 'type'> | undefined {
  if (!isUint(b.bytes) || b.bytes > MAX_REQUEST_LENGTH || tail.at + b.bytes > tail.buf.length) return undefined
  const data = tail.buf.subarray(tail.at, tail.at + b.bytes)
  tail.at += b.bytes
  return contentBody(b, data)
}

/** A Content body with its bytes (from base64, or from a binary tail). */
function contentBody(b: unknown, data: Buffer | undefined): Omit<MessageOf<'Content'>, 'type'> | undefined {
  if (!isObj(b) || !isId(b.id) || !isUint(b.offset) || !data || (b.eof !== undefined && !isUint(b.eof))) return undefined
  const hops = isUint(b.hops) && b.hops < 256 ? b.hops : undefined
  return { id: b.id, offset: b.offset, data, eof: b.eof as number | undefined, hops, ...(b.repaired === true ? { repaired: true } : {}) }
}

// Inside a sealed frame (src/mesh/secure/) a datagram may carry its Content bytes raw, after the
// JSON, instead of as base64 in it (a third less to send, and no base64 work): byte 0 BINARY_TAIL
// (never the first byte of JSON), bytes 1-4 the JSON's length (big-endian), the JSON array, in
// which each such Content has `"bytes": n` in place of `base64`, then those Contents' bytes in
// their order. Only ever inside a sealed frame: classic peers never see it.
export const BINARY_TAIL = 0x01

/** One Content message as the JSON of a binary-tail datagram (its bytes go in the tail). */
export function contentHeadJson(m: MessageOf<'Content'>): string {
  const body: Record<string, unknown> = { id: m.id, offset: m.offset, bytes: m.data.length }
  if (m.eof !== undefined) body.eof = m.eof
  if (m.hops !== undefined) body.hops = m.hops
  if (m.repaired) body.repaired = true
  return JSON.stringify({ Content: body })
}

export function encodeBinaryTail(json: string[], tail: Buffer[]): Buffer {
  const text = Buffer.from('[' + json.join(',') + ']')
  const head = Buffer.alloc(5)
  head[0] = BINARY_TAIL
  head.writeUInt32BE(text.length, 1)
  return Buffer.concat([head, text, ...tail])
}

/** A sealed frame's plaintext: a plain JSON datagram or one with a binary tail. */
export function decodeOpened(buf: Buffer): DecodeResult {
  if (buf[0] !== BINARY_TAIL) return decodeDatagram(buf)
  if (buf.length < 5) return { ok: false, reason: 'not_json' }
  const n = buf.readUInt32BE(1)
  if (5 + n > buf.length) return { ok: false, reason: 'not_json' }
  return decodeDatagram(buf.subarray(5, 5 + n), { buf: buf.subarray(5 + n), at: 0 })
}

const fatal = new TextDecoder('utf-8', { fatal: true })

/** Decodes one datagram. Never throws, whatever the bytes. */
/** `tail`: the binary tail of an opened sealed frame (decodeOpened), where Contents' bytes are. */
export function decodeDatagram(buf: Uint8Array, tail?: { buf: Buffer; at: number }): DecodeResult {
  if (buf.length > MAX_DATAGRAM_BYTES) return { ok: false, reason: 'oversize' }
  let text: string
  try { text = fatal.decode(buf) } catch { return { ok: false, reason: 'not_utf8' } }
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { return { ok: false, reason: 'not_json' } }
  if (!Array.isArray(parsed)) return { ok: false, reason: 'not_array' }
  if (parsed.length > MAX_MESSAGES_PER_DATAGRAM) return { ok: false, reason: 'too_many_messages' }
  const messages: Message[] = []
  let unknown = 0
  let bad = 0
  for (const entry of parsed) {
    const keys = isObj(entry) ? Object.keys(entry) : []
    if (keys.length !== 1) { bad++; continue }
    const type = keys[0]
    if (!Object.hasOwn(decoders, type)) { unknown++; continue }
    const raw = (entry as Obj)[type]
    const body = tail && type === 'Content' && isObj(raw) && raw.bytes !== undefined ? fromTail(raw, tail) : decoders[type as MessageType](raw)
    if (body === undefined) { bad++; continue }
    messages.push({ type, ...body } as Message)
  }
  return { ok: true, messages, skipped: { unknown, bad } }
}

/** The types encodeMessage gives a shape of their own; every other type travels as
 * `{"<type>":{...the message's other fields}}` (its default case), which plainBytes measures. */
const SHAPED_TYPES: ReadonlySet<MessageType> = new Set<MessageType>([
  'PleaseAlwaysReturnThisMessage', 'AlwaysReturned', 'PleaseReturnThisMessage', 'ReturnedMessage', 'PleaseSendPeers',
  'Content', 'MyPublicKey', 'ThisStreamGrew', 'HereIsTheStreamInfo', 'IHaveChunks', 'LetUsEncrypt',
])

/** The JSON object for one message, as peers expect it on the wire. */
export function encodeMessage(m: Message): Record<string, unknown> {
  switch (m.type) {
    case 'PleaseAlwaysReturnThisMessage': case 'AlwaysReturned':
    case 'PleaseReturnThisMessage': case 'ReturnedMessage':
      return { [m.type]: m.value }
    case 'PleaseSendPeers': return { PleaseSendPeers: {} }
    case 'Content': {
      const body: Record<string, unknown> = { id: m.id, offset: m.offset, base64: m.data.toString('base64') }
      if (m.eof !== undefined) body.eof = m.eof
      if (m.hops !== undefined) body.hops = m.hops
      if (m.repaired) body.repaired = true
      return { Content: body }
    }
    case 'MyPublicKey': {
      const body: Record<string, unknown> = {}
      if (m.ed25519) body.ed25519 = m.ed25519
      if (m.ed25519h) body.ed25519h = m.ed25519h
      if (m.proof) body.proof = m.proof
      return { MyPublicKey: body }
    }
    case 'ThisStreamGrew': return { ThisStreamGrew: m.head }
    case 'HereIsTheStreamInfo': return { HereIsTheStreamInfo: m.info }
    case 'IHaveChunks': return { IHaveChunks: { id: m.id, from: m.from, bits: m.bits.toString('base64') } }
    case 'LetUsEncrypt': return { LetUsEncrypt: { step: m.step, index: m.index, hs: m.hs.toString('base64') } }
    default: {
      const { type, ...body } = m
      return { [type]: body }
    }
  }
}

export function encodeDatagram(messages: Message[]): Buffer {
  return Buffer.from(JSON.stringify(messages.map(encodeMessage)))
}

/** Content messages (and the chunk records pushed with them) as JSON, with their byte length,
 * once per message object. A chunk pushed to every child of a stripe is the same messages for each
 * child, and encoding its blocks as base64 for each was the largest cost of a relay (and of the
 * simulator). Neither is ever changed once made (other messages may be: the DHT trims a reply
 * until it fits). */
const contentJson = new WeakMap<Message, { json: string; bytes: number }>()

/** One message as the JSON text it travels as, and that text's length in bytes. */
export function messageJson(m: Message): { json: string; bytes: number } {
  if (m.type !== 'Content' && m.type !== 'HereAreChunkHashes') {
    const json = JSON.stringify(encodeMessage(m))
    return { json, bytes: Buffer.byteLength(json) }
  }
  let e = contentJson.get(m)
  if (e === undefined) {
    const json = JSON.stringify(encodeMessage(m))
    e = { json, bytes: Buffer.byteLength(json) }
    contentJson.set(m, e)
  }
  return e
}

/** The encoded length in bytes of one message, without encoding it where its shape is known: a
 * Content message is `{"Content":{"id":…,"offset":…,"base64":"…"[,"eof":…][,"hops":…]}}`, and
 * its base64 alone has a known length. The in-process network (which hands decoded messages over
 * and only charges their size) never needs the text; messages-fuzz tests the two agree. */
export function messageBytes(m: Message): number {
  if (m.type !== 'Content') return SHAPED_TYPES.has(m.type) ? messageJson(m).bytes : plainBytes(m)
  const cached = contentJson.get(m)
  if (cached !== undefined) return cached.bytes
  let n = 41 + stringBytes(m.id) + String(m.offset).length + 4 * Math.ceil(m.data.length / 3)
  if (m.eof !== undefined) n += 7 + String(m.eof).length
  if (m.hops !== undefined) n += 8 + String(m.hops).length
  if (m.repaired) n += 16 // ,"repaired":true
  return n
}

/** The encoded length of a message of the default case, `{"<type>":{"<key>":<value>,...}}`, from
 * its fields: the length of JSON text does not depend on the order of its keys, so the body object
 * encodeMessage would build is never built. Repair requests and hints (PleaseSendContent,
 * MaybeTheyHaveSome) are most of what a relay sends besides chunks; messages-fuzz holds this to
 * the encoded length. */
function plainBytes(m: Message): number {
  let n = 5 + stringBytes(m.type)
  let fields = 0
  for (const key in m) {
    if (key === 'type' || !Object.hasOwn(m, key)) continue
    const v = (m as unknown as Record<string, unknown>)[key]
    const b = valueBytes(v)
    if (b === 0) continue
    n += stringBytes(key) + 1 + b
    fields++
  }
  return n + Math.max(0, fields - 1)
}

/** A value's JSON length, 0 for one JSON leaves out of an object (undefined, a function). */
function valueBytes(v: unknown): number {
  // A message's own strings and lists of them (ids, addresses) recur: measured through the table.
  if (typeof v === 'string') return stringBytes(v)
  if (Array.isArray(v) && v.every((e) => typeof e === 'string')) {
    let n = 1 + Math.max(1, v.length)
    for (const e of v as string[]) n += stringBytes(e)
    return n
  }
  return nestedBytes(v)
}

/** The JSON length of a value inside an array or object: plain arrays and objects are counted
 * from their parts, like plainBytes (a HereAreChunkHashes is mostly one new message per chunk
 * pushed or repaired, and encoding its records only to measure them was 2 % of the simulator's
 * CPU at 1,000 viewers); anything else (a Buffer or a Date, whose toJSON decides) is encoded.
 * Strings here are record hashes and signatures, each seen once: counted, not put in the table of
 * short strings, which is for the ids and addresses that recur. */
function nestedBytes(v: unknown): number {
  switch (typeof v) {
    case 'number': return Number.isFinite(v) ? String(v).length : 4
    case 'string': return jsonStringBytes(v)
    case 'boolean': return v ? 4 : 5
    case 'undefined': case 'function': case 'symbol': return 0
    case 'object': {
      if (v === null) return 4
      if (Array.isArray(v)) {
        // An element JSON leaves out of an object is written as null in an array.
        let n = 1 + Math.max(1, v.length)
        for (const e of v) { const b = nestedBytes(e); n += b === 0 ? 4 : b }
        return n
      }
      const proto = Object.getPrototypeOf(v) as unknown
      if ((proto !== Object.prototype && proto !== null) || typeof (v as { toJSON?: unknown }).toJSON === 'function') break
      let n = 2
      let fields = 0
      for (const key in v) {
        if (!Object.hasOwn(v, key)) continue
        // Read as v[key], an own "__proto__" (JSON.parse makes one) would give the prototype.
        if (key === '__proto__') return stringifiedBytes(v)
        const b = nestedBytes((v as Record<string, unknown>)[key])
        if (b === 0) continue
        n += jsonStringBytes(key) + 1 + b
        fields++
      }
      return n + Math.max(0, fields - 1)
    }
  }
  return stringifiedBytes(v)
}

function stringifiedBytes(v: unknown): number {
  const json = JSON.stringify(v) as string | undefined
  return json === undefined ? 0 : Buffer.byteLength(json)
}

/** JSON lengths of short strings already measured: ids, field names and addresses recur on every
 * datagram. One table for the process, bounded because addresses come from strangers, and large
 * enough for every address of a simulated swarm of 30,000: at 4,096 a swarm of 10,000 outgrew it,
 * and it was cleared over and over. Only strings of up to MEASURED_STRING_CHARS (addresses, stream
 * ids): 65,536 of them take some 16 MB at most, if strangers filled it with the longest. */
const stringLengths = new Map<string, number>()
const MAX_MEASURED_STRINGS = 65_536
const MEASURED_STRING_CHARS = 96

function stringBytes(s: string): number {
  if (s.length > MEASURED_STRING_CHARS) return jsonStringBytes(s)
  let n = stringLengths.get(s)
  if (n === undefined) {
    n = jsonStringBytes(s)
    if (stringLengths.size >= MAX_MEASURED_STRINGS) stringLengths.clear()
    stringLengths.set(s, n)
  }
  return n
}

/** A string's length as JSON text, in UTF-8 bytes, counted from its characters as JSON.stringify
 * escapes them (well-formed: a lone surrogate becomes \uXXXX), without building that text. */
export function jsonStringBytes(s: string): number {
  let n = 2
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0x20 && c < 0x7f) n += c === 0x22 || c === 0x5c ? 2 : 1
    else if (c < 0x20) n += c === 8 || c === 9 || c === 10 || c === 12 || c === 13 ? 2 : 6
    else if (c < 0x800) n += c === 0x7f ? 1 : 2
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0
      if (d >= 0xdc00 && d <= 0xdfff) { n += 4; i++ } else n += 6
    } else n += c >= 0xdc00 && c <= 0xdfff ? 6 : 3
  }
  return n
}

/** Encoded size of one message inside a datagram (plus its separating comma), measured as
 * messageBytes measures it: a reply to an unproven peer is sized against its 2x budget before it
 * is sent, and encoding it only to measure it showed in the simulator's join wave. */
export function encodedSize(m: Message): number {
  return messageBytes(m) + 1
}
