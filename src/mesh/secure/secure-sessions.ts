// Encrypted, authenticated sessions between our peers. Two cjp2p-stream nodes that have proven
// each other's address run a Noise XX handshake (noise-handshake: X25519, ChaCha20-Poly1305,
// SHA-256; fresh ephemeral keys, so forward secrecy) in three `LetUsEncrypt` messages, each
// side's static Noise key signed by its node key (node.key, ed25519) inside the encrypted
// handshake payload, so each learns which node key it talks to. From then on every datagram
// between them travels sealed (sealed-frame.ts). Classic peers never say IAlsoSpeak with our
// extension, so they are never asked and keep getting plain JSON.
//
// The initiator seals only once a sealed frame from the responder shows the responder has the
// session; each side refuses plain datagrams from a peer once it has heard a sealed one from it,
// except the handshake and hello messages a restarted peer sends (docs/SECURITY.md: what this
// does and does not stop).
//
// A restart: the restarted node has no session, its peers still seal to it. It answers a frame
// under a session it lacks with its plain hello (lost(), at most once a second per address, within
// 2x of the bytes that address sent); a plain hello from a peer that seals (or the restarted node's
// own greeting) doubts the session and starts a new handshake at once. The doubted session keeps
// carrying datagrams until the new one is confirmed, stays if the new one never is (a spoiled
// handshake), and ends only when GIVE_UP_AFTER of our handshakes in a row got no `LetUsEncrypt`
// back at all while nothing opened under it: a peer restarted with --no-encrypt. An off-path
// forger (who can add datagrams from any address, not remove any) thus costs us a handshake per
// START_AGAIN_MS, never the session: it can spoil a handshake, not make the real peer's answer
// go missing. Handshakes left unanswered back off per address (startAgainMs).
import { randomInt } from 'node:crypto'
import NoiseState from 'noise-handshake'
import { generateKeyPair } from 'noise-handshake/dh.js'
import type { CjNode, Ctx } from '../node.ts'
import type { Message, MessageOf } from '../messages.ts'
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, verifySignature, type StreamKey } from '../../store/keys.ts'
import type { Timer } from '../../util/timers.ts'
import { ReplayWindow, isSealed, openFrame, sealFrame, sessionIndexOf } from './sealed-frame.ts'

/** Bound into every handshake (the prologue): a handshake of another protocol never completes as ours. */
export const PROLOGUE = Buffer.from('cjp2p-stream/noise-xx/1')
/** What a node key signs: its node's static Noise key, after this label. */
export const STATIC_KEY_LABEL = 'cjp2p-stream/noise-static-key/v1\n'
/** What the responder's first sealed datagram asks back (not an RTT probe: see onHandshake). */
const CONFIRM_VALUE = 'sealed'
/** A handshake not finished in this long is dropped; the next tick may start another. */
const HANDSHAKE_TTL_MS = 5000
/** One peer gets a new handshake from us at most this often; after handshakes it left unanswered,
 * twice as long per unanswered one, up to BACK_OFF_MAX_MS (a --no-encrypt cjp2p-stream peer says
 * hello like any other but never answers: without this, a keygen and a step 1 every 5 s forever). */
const START_AGAIN_MS = 5000
const BACK_OFF_MAX_MS = 5 * 60_000
/** A doubted session ends once this many of our handshakes in a row went unanswered (no
 * `LetUsEncrypt` at all came back, good or bad) and nothing opened under it meanwhile: what a peer
 * restarted without encryption looks like. A forger can spoil a handshake, not make it unanswered. */
const GIVE_UP_AFTER = 2
/** The initiator sends its last handshake message again this often until a sealed frame comes back. */
const RESEND_MS = 1000
const TICK_MS = 1000
/** Sessions and handshakes kept (addresses come from strangers). */
const MAX_SESSIONS = 4096
/** A peer not heard for this long loses its session (it may come back as another node). */
const IDLE_MS = 10 * 60_000
/** An address that seals to us under a session we lack gets our hello back at most this often. */
const HINT_EVERY_MS = 1000
/** Plain messages a peer that seals may still send: its hello after a restart, and handshakes. */
const PLAIN_AFTER_SEALED: ReadonlySet<string> = new Set(['PleaseAlwaysReturnThisMessage', 'AlwaysReturned', 'IAlsoSpeak', 'LetUsEncrypt'])

interface Handshake {
  noise: NoiseState; initiator: boolean; index: number; at: number; e: Buffer
  /** Some `LetUsEncrypt` came back from the address (even one that broke the handshake). */
  answered: boolean
}
interface Session {
  addr: string
  /** Index frames to us carry (ours) and frames to the peer carry (its). */
  index: number
  remoteIndex: number
  tx: Uint8Array
  rx: Uint8Array
  counter: number
  window: ReplayWindow
  /** The peer's node key (hex), proven by its signature over its static Noise key. */
  remoteKey: string
  /** We may seal: the responder from the start, the initiator once the responder sealed to us. */
  confirmed: boolean
  /** The peer has sealed to us: from now on its plain datagrams are refused (but PLAIN_AFTER_SEALED). */
  heardSealed: boolean
  m3?: Buffer
  m3SentAt?: number
  /** When the handshake ended on our side (an initiator that never hears a sealed frame back by
   * HANDSHAKE_TTL_MS gives the session up: the responder lost it, or never had it). */
  at: number
  /** When the peer said hello plain (it restarted, or someone forged its address): new handshakes
   * try to replace the session, which ends only if GIVE_UP_AFTER of them in a row went unanswered
   * and nothing opened under it meanwhile. */
  doubtedAt?: number
  /** The session this one replaced, kept until the peer seals under this one (frames in flight
   * under it still open) and sealed with until this one is confirmed; current again if this one
   * never is (a spoiled handshake must not take a working session with it). */
  previous?: Session
}

export interface SecureCounters {
  started: number; established: number; sealed: number; opened: number; badSeal: number
  unknownSession: number; replayed: number; refusedPlain: number; badIdentity: number
  /** Hellos sent in answer to frames under a session we lack (we restarted). */
  hinted: number
  /** Sessions doubted on a plain hello from their peer; of those, ended because our handshakes
   * went unanswered and nothing opened under them (reset), or replaced by a new one (renewed). */
  doubted: number; reset: number; renewed: number
}

export type OpenResult = Buffer | 'unknown_session' | 'bad_seal'

export class SecureSessions {
  private readonly handshakes = new Map<string, Handshake>()
  private readonly byAddr = new Map<string, Session>()
  private readonly byIndex = new Map<number, Session>()
  private readonly started = new Map<string, number>()
  private readonly hinted = new Map<string, number>()
  /** Our handshakes in a row the address left unanswered (the back-off, and giving a doubt up). */
  private readonly unanswered = new Map<string, number>()
  private readonly staticKeys = generateKeyPair()
  private readonly identity: Buffer
  private timer: Timer | undefined
  readonly counters: SecureCounters = { started: 0, established: 0, sealed: 0, opened: 0, badSeal: 0, unknownSession: 0, replayed: 0, refusedPlain: 0, badIdentity: 0, hinted: 0, doubted: 0, reset: 0, renewed: 0 }

  constructor(private c: { node: CjNode; key: StreamKey }) {
    const node = c.node
    const sig = c.key.sign(Buffer.concat([Buffer.from(STATIC_KEY_LABEL), this.staticKeys.publicKey]))
    this.identity = Buffer.concat([Buffer.from(c.key.publicKeyHex, 'hex'), sig])
    node.handle('LetUsEncrypt', (m, ctx) => this.onHandshake(m, ctx))
    node.handle('IAlsoSpeak', (_m, ctx) => {
      if (!ctx.verified || !ctx.peer.speaksStreams) return
      // A peer we back off from says hello: perhaps a new process, no longer with --no-encrypt,
      // that never heard our IAlsoSpeak (node.ts tells an address once). Told, it starts the
      // handshake itself if it can (our answer resets the back-off); a --no-encrypt one stops
      // repeating its IAlsoSpeak once it knows ours.
      if (!this.byAddr.has(ctx.from) && this.unanswered.has(ctx.from)) ctx.reply(this.c.node.capabilities(ctx.from))
      this.start(ctx.from)
    })
    node.handle('AlwaysReturned', (_m, ctx) => { if (ctx.verified && ctx.peer.speaksStreams) this.start(ctx.from) })
    node.sealer = this
  }

  startTimer(): void {
    this.timer ??= this.c.node.timers.setInterval(() => this.tick(), TICK_MS)
  }

  close(): void {
    this.c.node.timers.clear(this.timer)
    this.timer = undefined
    if (this.c.node.sealer === this) this.c.node.sealer = null
  }

  /** The peer's node key, when we share a session with it. */
  keyOf(addr: string): string | undefined { return this.byAddr.get(addr)?.remoteKey }
  sealsTo(addr: string): boolean {
    const s = this.byAddr.get(addr)
    return s?.confirmed === true || s?.previous?.confirmed === true
  }

  /** The datagram as it goes to `to`: sealed when we share a confirmed session. */
  seal(to: string, buf: Buffer): Buffer {
    const cur = this.byAddr.get(to)
    // Until a new session is confirmed, the one it replaces still carries our datagrams.
    const s = cur?.confirmed ? cur : cur?.previous
    if (!s?.confirmed) return buf
    this.counters.sealed++
    return sealFrame(s.tx, s.remoteIndex, s.counter++, buf)
  }

  /** A sealed datagram's plaintext, or why there is none: `bad_seal` (it fails authentication
   * under the session it names, or replays a counter) is the sender's fault, an unknown session
   * (we restarted, or it expired) is not. */
  open(from: string, buf: Buffer): OpenResult {
    if (!isSealed(buf)) return 'bad_seal'
    const s = this.byIndex.get(sessionIndexOf(buf))
    if (!s) { this.counters.unknownSession++; return 'unknown_session' }
    const r = openFrame(s.rx, buf)
    if (!r) { this.counters.badSeal++; return 'bad_seal' }
    if (!s.window.accept(r.counter)) { this.counters.replayed++; return 'bad_seal' }
    this.counters.opened++
    this.unanswered.delete(s.addr)
    const cur = this.byAddr.get(s.addr)
    if (cur !== s) {
      // The replaced session, while its replacement is unconfirmed: the peer still has it, so the
      // hello that doubted it was not the peer's; kept (current again should the replacement fail).
      if (cur?.previous === s && !cur.confirmed) s.doubtedAt = undefined
      // Otherwise a frame in flight under a session since replaced: its datagram, nothing more.
      return r.plain
    }
    s.heardSealed = true
    s.confirmed = true
    s.m3 = undefined
    // The peer still has this session: a plain hello from its address did not come from it.
    s.doubtedAt = undefined
    if (s.previous) { this.byIndex.delete(s.previous.index); s.previous = undefined }
    // Authenticated: the peer's NAT moved it (roaming, as WireGuard does); its session follows.
    if (from !== s.addr) this.move(s, from)
    return r.plain
  }

  /** `from` sealed to us under a session we lack: from a proven peer of ours, a new session; from
   * an address we share nothing with (we restarted, it kept the session it had with our previous
   * process), our plain hello, which makes it start one (plainKept). At most once a second per
   * address and within 2x of what it sent (node.ts counted the frame): an off-path forger gains
   * no amplification and no state past the bounded map. */
  lost(from: string): void {
    const p = this.c.node.peers.get(from)
    if (p?.verified && p.speaksStreams) this.start(from)
    if (this.byAddr.has(from) || this.handshakes.has(from)) return
    const now = this.c.node.timers.now()
    if (now - (this.hinted.get(from) ?? -Infinity) < HINT_EVERY_MS) return
    bounded(this.hinted, from, now)
    this.counters.hinted++
    this.c.node.replyTo(from, [this.c.node.capabilities(from)])
  }

  /** Which messages of a plain datagram from `from` are taken: all, but from a peer that seals,
   * only its hello and handshake messages. A plain IAlsoSpeak from it says it restarted and lost
   * the session (or someone forged its address): the session is doubted, not ended; the
   * IAlsoSpeak handler starts a new handshake. */
  plainKept(from: string, messages: Message[]): Message[] {
    const s = this.byAddr.get(from)
    if (!s?.heardSealed) return messages
    const kept = messages.filter((m) => PLAIN_AFTER_SEALED.has(m.type))
    if (kept.length < messages.length) this.counters.refusedPlain++
    if (s.doubtedAt === undefined && kept.some((m) => m.type === 'IAlsoSpeak')) {
      s.doubtedAt = this.c.node.timers.now()
      this.unanswered.delete(from)
      this.counters.doubted++
    }
    return kept.length === messages.length ? messages : kept
  }

  private start(addr: string): void {
    const now = this.c.node.timers.now()
    const s = this.byAddr.get(addr)
    if ((s && s.doubtedAt === undefined) || this.handshakes.has(addr) || now - (this.started.get(addr) ?? -Infinity) < this.startAgainMs(addr)) return
    bounded(this.started, addr, now)
    const noise = new NoiseState('XX', true, this.staticKeys)
    noise.initialise(PROLOGUE)
    const m1 = Buffer.from(noise.send())
    const hs: Handshake = { noise, initiator: true, index: this.newIndex(), at: now, e: m1.subarray(0, 32), answered: false }
    this.keepHandshake(addr, hs)
    this.counters.started++
    this.c.node.send(addr, [{ type: 'LetUsEncrypt', step: 1, index: hs.index, hs: m1 }])
  }

  /** How long after our last handshake to `addr` the next may start: doubled per unanswered one. */
  private startAgainMs(addr: string): number {
    const n = this.unanswered.get(addr) ?? 0
    return Math.min(BACK_OFF_MAX_MS, START_AGAIN_MS * 2 ** Math.max(0, n - 1))
  }

  private onHandshake(m: MessageOf<'LetUsEncrypt'>, ctx: Ctx): void {
    // A handshake answer is larger than its question: only to proven addresses, and only our peers.
    if (!ctx.verified || !ctx.peer.speaksStreams) return
    const now = this.c.node.timers.now()
    const mine = this.handshakes.get(ctx.from)
    // It speaks the handshake: not a --no-encrypt peer (a forged one only delays giving a doubt up).
    this.unanswered.delete(ctx.from)
    if (mine) mine.answered = true
    try {
      if (m.step === 1) {
        // Both started at once: the larger ephemeral key stays the initiator.
        if (mine?.initiator && Buffer.compare(mine.e, m.hs.subarray(0, 32)) > 0) return
        const noise = new NoiseState('XX', false, this.staticKeys)
        noise.initialise(PROLOGUE)
        noise.recv(m.hs)
        const hs: Handshake = { noise, initiator: false, index: this.newIndex(), at: now, e: Buffer.alloc(0), answered: true }
        this.keepHandshake(ctx.from, hs)
        ctx.reply({ type: 'LetUsEncrypt', step: 2, index: hs.index, hs: Buffer.from(noise.send(this.identity)) })
      } else if (m.step === 2 && mine?.initiator) {
        const key = this.checkIdentity(mine.noise.recv(m.hs), mine.noise, ctx)
        if (!key) return this.drop(ctx.from)
        const m3 = Buffer.from(mine.noise.send(this.identity))
        this.established(ctx.from, mine, m.index, key, false, m3)
        ctx.reply({ type: 'LetUsEncrypt', step: 3, index: mine.index, hs: m3 })
      } else if (m.step === 3 && mine && !mine.initiator) {
        const key = this.checkIdentity(mine.noise.recv(m.hs), mine.noise, ctx)
        if (!key) return this.drop(ctx.from)
        this.established(ctx.from, mine, m.index, key, true)
        // The first sealed datagram tells the initiator we have the session: it may seal too. Its
        // value is not a time: our RTT probes carry numbers (CjNode's ReturnedMessage), and this
        // round trip includes the handshake's crypto on both sides (cold code in a new process, on
        // a loaded machine tens of ms), which as an RTT sample slowed repairs to that peer.
        this.c.node.send(ctx.from, [{ type: 'PleaseReturnThisMessage', value: CONFIRM_VALUE }])
      }
    } catch {
      // A handshake message that does not decrypt or parse: the handshake is over, nothing else
      // (noise-handshake's recv advances the state before it fails, so it cannot go on; a session
      // it was to replace stays, and the next try comes after START_AGAIN_MS).
      this.drop(ctx.from)
    }
  }

  /** The node key that signed the peer's static Noise key, or undefined (then charged). */
  private checkIdentity(payload: Uint8Array, noise: NoiseState, ctx: Ctx): string | undefined {
    const p = Buffer.from(payload)
    const key = p.subarray(0, PUBLIC_KEY_BYTES).toString('hex')
    const ok = p.length === PUBLIC_KEY_BYTES + SIGNATURE_BYTES &&
      verifySignature(key, Buffer.concat([Buffer.from(STATIC_KEY_LABEL), noise.rs]), p.subarray(PUBLIC_KEY_BYTES)) &&
      // A peer that proved another key at this address (src/mesh/nat/peer-keys.ts) is not this one.
      !(ctx.peer.keyProven && ctx.peer.publicKey !== undefined && ctx.peer.publicKey !== key)
    if (ok) return key
    this.counters.badIdentity++
    this.c.node.penalise(ctx.from, 'bad_seal')
    return undefined
  }

  private established(addr: string, hs: Handshake, remoteIndex: number, remoteKey: string, confirmed: boolean, m3?: Buffer): void {
    this.handshakes.delete(addr)
    const old = this.byAddr.get(addr)
    // The last confirmed session: the one in place, or the one an unconfirmed one in place replaced.
    const keep = old?.confirmed ? old : old?.previous?.confirmed ? old.previous : undefined
    if (old) {
      this.forget(old)
      if ((old.doubtedAt ?? keep?.doubtedAt) !== undefined) this.counters.renewed++
    }
    const { tx, rx } = hs.noise
    const s: Session = { addr, index: hs.index, remoteIndex, tx, rx, counter: 0, window: new ReplayWindow(), remoteKey, confirmed, heardSealed: false, m3, m3SentAt: this.c.node.timers.now(), at: this.c.node.timers.now() }
    // The session replaced is kept a while: frames in flight under it still open, and until the new
    // one is confirmed ours still go sealed under it rather than plain (after a forged hello the
    // peer opens them; after a real restart it cannot, for the half round trip that remains).
    if (keep) {
      s.previous = keep
      keep.previous = undefined
      this.byIndex.set(keep.index, keep)
    }
    if (this.byAddr.size >= MAX_SESSIONS) this.forget(this.byAddr.values().next().value as Session)
    this.byAddr.set(addr, s)
    this.byIndex.set(s.index, s)
    this.counters.established++
  }

  private tick(): void {
    const node = this.c.node
    const now = node.timers.now()
    for (const [addr, hs] of this.handshakes) {
      if (now - hs.at <= HANDSHAKE_TTL_MS) continue
      this.handshakes.delete(addr)
      if (hs.initiator && !hs.answered) bounded(this.unanswered, addr, (this.unanswered.get(addr) ?? 0) + 1)
    }
    for (const s of [...this.byAddr.values()]) {
      const p = node.peers.get(s.addr)
      if (!p || now - p.lastHeard > IDLE_MS) { this.forget(s); continue }
      if (s.doubtedAt !== undefined) {
        // Our handshakes to it went unanswered, and nothing opened under the session meanwhile:
        // the peer lost it and does not speak the handshake (restarted with --no-encrypt): plain
        // again, so the two can talk. A handshake spoiled by a bad message was answered (by
        // someone): it proves nothing, and the next one is tried (start: at most every 5 s).
        if (!this.handshakes.has(s.addr) && (this.unanswered.get(s.addr) ?? 0) >= GIVE_UP_AFTER) { this.counters.reset++; this.forget(s); continue }
        this.start(s.addr)
      }
      // Our last handshake message may have been lost: until the responder seals to us, again; and
      // if it never does, the responder has dropped its half (its handshake expired with every
      // copy lost, or a forged message broke it): ours goes, and the session it replaced, never
      // shown lost, is the one in place again.
      if (s.m3 && now - s.at > HANDSHAKE_TTL_MS) { this.giveUp(s); continue }
      if (s.previous && now - s.at > HANDSHAKE_TTL_MS) { this.byIndex.delete(s.previous.index); s.previous = undefined }
      if (s.m3 && now - (s.m3SentAt ?? 0) >= RESEND_MS) {
        s.m3SentAt = now
        node.send(s.addr, [{ type: 'LetUsEncrypt', step: 3, index: s.index, hs: s.m3 }])
      }
    }
  }

  private move(s: Session, to: string): void {
    if (this.byAddr.get(s.addr) === s) this.byAddr.delete(s.addr)
    const there = this.byAddr.get(to)
    if (there && there !== s) this.forget(there)
    s.addr = to
    this.byAddr.set(to, s)
  }

  private forget(s: Session): void {
    if (this.byAddr.get(s.addr) === s) this.byAddr.delete(s.addr)
    this.byIndex.delete(s.index)
    if (s.previous) this.byIndex.delete(s.previous.index)
  }

  /** An unconfirmed session never confirmed: gone, and the session it replaced back in place. */
  private giveUp(s: Session): void {
    this.forget(s)
    const p = s.previous
    if (!p || this.byAddr.has(p.addr)) return
    s.previous = undefined
    this.byAddr.set(p.addr, p)
    this.byIndex.set(p.index, p)
  }

  private drop(addr: string): void { this.handshakes.delete(addr) }

  private keepHandshake(addr: string, hs: Handshake): void {
    this.handshakes.delete(addr)
    if (this.handshakes.size >= MAX_SESSIONS) this.handshakes.delete(this.handshakes.keys().next().value as string)
    this.handshakes.set(addr, hs)
  }

  private newIndex(): number {
    for (;;) {
      const i = randomInt(1, 0xffffffff)
      if (!this.byIndex.has(i) && ![...this.handshakes.values()].some((h) => h.index === i)) return i
    }
  }
}

function bounded(map: Map<string, number>, key: string, at: number): void {
  map.delete(key)
  if (map.size >= MAX_SESSIONS) map.delete(map.keys().next().value as string)
  map.set(key, at)
}
