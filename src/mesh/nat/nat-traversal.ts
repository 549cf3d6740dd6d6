// NAT traversal for one node: it tells each proven peer where it sees it (ISeeYouAt), learns its
// own public mapping and NAT kind from their reports (observed-address.ts), tells its peers that
// kind (IAmBehind: a symmetric node is a leaf, and its address is handed to nobody), has peers
// introduce it to the ones its hellos cannot reach (introductions.ts), and keeps its mappings open
// (keepalive.ts). A node whose router forwards its port (port-mapping.ts) says so (IAmBehind.mapped),
// and its peers then count it as reachable by anyone (reachability.ts). Given a way to open more
// sockets, it takes part in birthday punches between symmetric and cone NATs (birthday-punch.ts),
// and closes the side sockets they leave once their peer goes silent. Classic cjp2p peers skip
// all of these messages and are never sent them.
import type { CjNode, Ctx } from '../node.ts'
import type { Message, NatKind } from '../messages.ts'
import type { Timer } from '../../util/timers.ts'
import { ObservedAddresses, type NatView } from './observed-address.ts'
import { Introductions } from './introductions.ts'
import { sendKeepalives } from './keepalive.ts'
import { PeerKeys } from './peer-keys.ts'
import { LanMates } from './lan-mates.ts'
import { ourLanAddresses } from './lan-address.ts'
import type { StreamKey } from '../../store/keys.ts'
import type { Transport } from '../transport.ts'
import { BirthdayPunch, type PunchCounters } from './birthday-punch.ts'

/** Each proven peer of ours hears where we see it this often (and at once from a new address). */
export const REPORT_EVERY_MS = 20_000
const TICK_MS = 5000
/** Peers told when our NAT kind changes: those heard within this long, at most MAX_TOLD of them. */
const TELL_HEARD_MS = 60_000
const MAX_TOLD = 64
const MAX_REPORTED = 4096
/** A side socket whose peer was not heard for this long is closed (keepalives run every 15 s). */
const SIDE_SILENT_MS = 60_000

export interface NatStatus extends NatView {
  introductions: { asked: number; introduced: number; hellos: number; refused: number; birthdays: number; lanMates: number }
  keepalives: number
  keys: { challenged: number; proven: number; bad: number; moved: number } | null
  /** Birthday punches (null: off, or no sockets to open), and the peers reached through side sockets. */
  birthday: (PunchCounters & { sidePeers: string[] }) | null
}

export interface NatTraversalInit {
  /** --punch-probes: the easy side's probes per birthday punch; 0 turns birthday punching off. */
  punchProbes?: number
}

export class NatTraversal {
  readonly observed: ObservedAddresses
  readonly introductions: Introductions
  /** Peers by their proven node keys (only with a node key: the CLI's runtime has one). */
  readonly keys: PeerKeys | null
  readonly lan: LanMates
  /** Birthday punching, when the node can open more sockets and it is not turned off. */
  readonly punch: BirthdayPunch | null
  /** Our LAN address, told with our NAT kind to peers behind a NAT's (lan-mates.ts). */
  private readonly local: string | undefined
  /** The address our router forwards to us (a port mapping), announced with our NAT kind. */
  private mapped: string | null = null
  private reported = new Map<string, number>()
  private timer: Timer | undefined
  private keepalives = 0

  constructor(private c: { node: CjNode; key?: StreamKey; openSocket?: () => Promise<Transport> }, init: NatTraversalInit = {}) {
    const node = c.node
    this.observed = new ObservedAddresses({ clock: node.timers, isSelf: (a) => node.selves.isLocal(a), localAddress: () => node.address })
    const punch = c.openSocket && init.punchProbes !== 0
      ? new BirthdayPunch({
        timers: node.timers, openSocket: c.openSocket,
        sendRaw: (buf, to) => node.transport.send(buf, to),
        adopt: (t, peer, first) => node.adoptSide(t, peer, first),
        greet: (peer) => node.send(peer, [{ type: 'PleaseReturnThisMessage', value: node.timers.now() }, node.capabilities(peer)]),
        met: (peer) => this.introductions.punchMet(peer),
      }, { probes: init.punchProbes })
      : null
    this.punch = punch
    if (punch) node.on('stranger', this.onStranger)
    this.introductions = new Introductions(node, punch, () => (node.nat.kind === 'unknown' ? undefined : this.behind(node.nat.kind)))
    this.keys = c.key ? new PeerKeys({ node, key: c.key }) : null
    this.lan = new LanMates(node)
    node.lanMates = (a) => this.lan.mates(a)
    this.local = ourLanAddresses(node.address)[0]
    // Every datagram of a proven peer echoes our cookie: the first one from a new address (a new
    // peer, or one whose NAT moved it) gets a report at once, the others every REPORT_EVERY_MS.
    node.handle('AlwaysReturned', (_m, ctx) => this.report(ctx))
    node.handle('IAlsoSpeak', (_m, ctx) => this.report(ctx))
    node.handle('ISeeYouAt', (m, ctx) => {
      if (!ctx.verified) return
      ctx.peer.seesUsDirectly = node.selves.isLocal(m.addr)
      this.apply(this.observed.report(ctx.from, m.addr))
    })
    // Only a mapping of the very address we know the peer by makes it reachable there: a router that
    // mapped another port than the one its NAT gives the peer's traffic would need a second address.
    node.handle('IAmBehind', (m, ctx) => { if (ctx.verified) ctx.peer.mapped = m.mapped === ctx.from })
  }

  start(): void {
    if (this.timer) return
    this.timer = this.c.node.timers.setInterval(() => this.tick(), TICK_MS)
  }

  close(): void {
    this.c.node.timers.clear(this.timer)
    this.timer = undefined
    this.introductions.close()
    this.punch?.close()
    this.c.node.off('stranger', this.onStranger)
  }

  private onStranger = (from: string): void => { this.punch?.heard(from) }

  status(): NatStatus {
    return { ...this.observed.view(), introductions: { ...this.introductions.counters, lanMates: this.lan.counters.introduced }, keepalives: this.keepalives, keys: this.keys ? { ...this.keys.counters } : null, birthday: this.punch ? { ...this.punch.counters, sidePeers: this.c.node.sidePeers() } : null }
  }

  /** Our router now forwards `external` to us (or no longer forwards anything): tell our peers. */
  setMapped(external: string | null): void {
    if (external === this.mapped) return
    this.mapped = external
    const kind = this.c.node.nat.kind
    if (kind !== 'unknown') this.tell(this.behind(kind))
  }

  private tick(): void {
    // Reports expire: a NAT that rebound our mapping stops looking symmetric.
    this.apply(this.observed.view())
    this.keepalives += sendKeepalives(this.c.node)
    this.introductions.seekBirthday()
    this.introductions.retellPunches()
    const node = this.c.node
    const now = node.timers.now()
    for (const a of node.sidePeers()) {
      const p = node.peers.get(a)
      if (p === undefined || now - p.lastHeard > SIDE_SILENT_MS) node.releaseSide(a)
    }
  }

  private report(ctx: Ctx): void {
    if (!ctx.verified || !ctx.peer.speaksStreams) return
    const now = this.c.node.timers.now()
    if (now - (this.reported.get(ctx.from) ?? -Infinity) < REPORT_EVERY_MS) return
    this.reported.delete(ctx.from)
    if (this.reported.size >= MAX_REPORTED) this.reported.delete(this.reported.keys().next().value as string)
    this.reported.set(ctx.from, now)
    ctx.reply({ type: 'ISeeYouAt', addr: ctx.from })
    const kind = this.c.node.nat.kind
    if (kind !== 'unknown') ctx.reply(this.behind(kind))
  }

  private behind(kind: NatKind): Message {
    const behindNat = kind !== 'none'
    return { type: 'IAmBehind', nat: kind, ...(behindNat && this.local !== undefined ? { local: this.local } : {}), ...(behindNat && this.mapped !== null ? { mapped: this.mapped } : {}) }
  }

  private apply(v: NatView): void {
    const node = this.c.node
    const was = node.nat.kind
    node.nat = { kind: v.kind, publicAddress: v.publicAddress }
    // Peers that list us under our public mapping must not make us greet ourselves; only an
    // address two peers agree on is taken (one peer could name any address).
    if (v.kind === 'cone' && v.observers > 1 && v.publicAddress) node.selves.learn(v.publicAddress)
    if (v.kind === was || v.kind === 'unknown') return
    node.log.info('our NAT, as peers see us', { kind: v.kind, publicAddress: v.publicAddress, observers: v.observers })
    this.tell(this.behind(v.kind))
    // Until a punch meets, the source feeds us from its own leaf places: ask now (the ask carries
    // our kind), not at the next round, up to TICK_MS later. Tried without the word that a punch
    // met in session 17, and withdrawn; measured with it in NAT-LAB.md, session 23.
    if (v.kind === 'symmetric') this.introductions.seekBirthday()
  }

  /** News of our NAT to the peers heard lately (the rest hear it with their next report). */
  private tell(m: Message): void {
    const node = this.c.node
    const now = node.timers.now()
    const peers = node.peers.all().filter((p) => p.verified && p.speaksStreams && now - p.lastHeard < TELL_HEARD_MS && !node.peers.isBanned(p))
    for (const p of peers.slice(0, MAX_TOLD)) node.send(p.addr, [m])
  }
}
