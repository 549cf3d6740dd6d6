// Hole punching through a peer both sides already talk to. A home router drops datagrams from
// anyone its host has not sent to, so when A greets B behind such a NAT, A's hello dies there (but
// opens A's own NAT towards B). A then asks the peer that told it about B (PleaseIntroduceMe), which
// tells B to greet A (SayHelloTo, with A's address as it sees it): B's hello passes A's NAT, which
// expects B since A's hello, and opens B's towards A. One exchange later both have proven each
// other's address. Works between port-restricted cones (one public mapping per socket); a
// symmetric NAT maps every destination apart, so it cannot be punched this way: a node behind one
// asks for a birthday punch instead (`birthday`), which the introducer starts on both sides when the
// other is behind a cone (birthday-punch.ts).
//
// Bounds: introductions are asked for, made and acted on only between proven peers, each side
// rate-limited; an introduced hello is an ordinary hello to an address we speak to first, so the
// node's anti-amplification allowance (a few hundred bytes per backoff step) caps what a lying
// introducer can make us send anyone.
import type { CjNode, Ctx } from '../node.ts'
import type { BirthdaySide, Message } from '../messages.ts'
import type { BirthdayPunch } from './birthday-punch.ts'

/** Who told us about an address, remembered for this many addresses. */
const MAX_REFERRALS = 4096
/** We ask for an introduction to one address at most this often. */
export const INTRODUCE_AGAIN_MS = 3000
/** An introducer introduces one requester this many times per window, at most. */
const INTRODUCTIONS_PER_WINDOW = 32
const WINDOW_MS = 10_000
/** Introduced hellos we send per window, whoever asks (a cap on what introducers make us do). */
const HELLOS_PER_WINDOW = 64
/** A peer heard this recently is reachable: no introduction needed, none made to a stale one. */
const FRESH_MS = 30_000
/** A birthday punch with one peer is asked for at most this often (it costs hundreds of datagrams). */
export const BIRTHDAY_AGAIN_MS = 300_000
/** An ask for a birthday punch that nobody started (the introducer did not yet know our NATs) is
 * repeated after this. */
const BIRTHDAY_UNANSWERED_MS = 20_000
/** A birthday punch we introduced counts as done when its hard side says it met (PunchMet). A
 * build before that word (it does not announce PUNCH_MET) has its punch counted this long after the
 * introduction: its probes take up to 7 s, but half meet within 1.5 s and 9 in 10 within 4.5 s (a
 * late or failed one brought its viewer back to us, after seconds on a path that was not there:
 * NAT lab, session 23). */
export const BIRTHDAY_SETTLE_MS = 5000
/** Addresses looked at per round for a birthday punch to ask for. */
const BIRTHDAY_SCAN = 64
/** ... and as a path for this long (a failed one sends its viewer back to us: reachability.ts). */
const BIRTHDAY_PAIR_MS = 600_000
/** A node behind a symmetric NAT stops asking for birthday punches once it reaches this many peers
 * through them: one cone viewer can feed it every stripe, a second is its spare. */
const ENOUGH_PUNCHED = 2
/** Pairs remembered per viewer behind a symmetric NAT. */
const MAX_PAIRS = 4
/** A punch that met is told its introducer at once and at this many rounds after, while its side
 * socket lives: on that word alone the introducer counts it, so two lost copies must not lose it. */
const RETELLS = 6
/** The hard side of a birthday punch starts only this soon after we asked for it. */
const BIRTHDAY_ANSWER_MS = 10_000
/** A pair whose cone side holds a port mapping is told to say hello, not punched; asked for again
 * within this long, the hello did not pass (a mapping claimed and not held, or lost since), and
 * the pair gets its punch. Longer than the asker's wait before it asks again (20 s). */
const PLAIN_AGAIN_MS = 60_000

type ListMessage = { peers: string[] }

export class Introductions {
  private referrals = new Map<string, string>()
  private asked = new Map<string, number>()
  private made = new Map<string, { at: number; n: number }>()
  private hellos = { at: 0, n: 0 }
  /** Birthday punches we asked for: peer -> when, and whom we asked. */
  private birthdays = new Map<string, { at: number; via: string; started: boolean }>()
  /** When our last ask for a birthday punch left, until its punch starts: one ask at a time, since
   * every ask an introducer grants sets the other side probing. */
  private askedAt = -Infinity
  /** Birthday punches we introduced: requester (behind a symmetric NAT) -> cone peers, when, and
   * whether the requester said the punch met. */
  private pairs = new Map<string, Array<{ peer: string; at: number; met?: true }>>()
  /** Punches of ours that met -> rounds left to tell them again (bounded: one punch runs at a
   * time, at most 8 a minute, each told RETELLS rounds at most). Told to the introducer we asked. */
  private toRetell = new Map<string, number>()
  /** `requester cone-peer` -> when we told the requester to say hello instead of punching. */
  private plainHellos = new Map<string, number>()
  readonly counters = { asked: 0, introduced: 0, hellos: 0, refused: 0, birthdays: 0 }

  /** `behind`: what we tell peers of our NAT (NatTraversal), sent with an ask for a birthday punch,
   * which the introducer grants only to a node it knows to be behind a symmetric NAT. */
  constructor(private node: CjNode, private punch: BirthdayPunch | null = null, private behind: () => Message | undefined = () => undefined) {
    const learn = (m: ListMessage, ctx: Ctx) => { if (ctx.verified) for (const a of m.peers) this.refer(a, ctx.from) }
    node.handle('Peers', learn)
    node.handle('MaybeTheyHaveSome', learn)
    node.handle('AskThemInstead', learn)
    node.handle('TheyHave', learn)
    node.handle('TheseAreNear', (m, ctx) => { if (ctx.verified) for (const c of m.nodes) this.refer(c.slice(65), ctx.from) })
    // A parent names its own parent (`via`): it talks to it, so it can introduce us.
    node.handle('IWillKeepSendingYou', (m, ctx) => { if (ctx.verified && m.via) this.refer(m.via, ctx.from) })
    node.handle('PleaseIntroduceMe', (m, ctx) => this.introduce(m.to, ctx, m.birthday === true))
    node.handle('SayHelloTo', (m, ctx) => this.sayHello(m.peer, ctx, m.birthday))
    node.handle('PunchMet', (m, ctx) => this.onPunchMet(m.peer, ctx))
    node.on('greeting', this.onGreeting)
    node.on('peer-moved', this.onPeerMoved)
    node.punchedWith = (a) => this.punchedWith(a)
  }

  /** A key proved a peer at a new address (its NAT rebound it): its pairs follow it, as requester
   * and as the cone peer, or its word that a punch met would come from an address we keep none for. */
  private onPeerMoved = (from: string, to: string): void => {
    const mine = this.pairs.get(from)
    if (mine !== undefined) {
      this.pairs.delete(from)
      remember(this.pairs, to, mine)
    }
    for (const list of this.pairs.values()) for (const p of list) if (p.peer === from) p.peer = to
  }

  private punchedWith(addr: string): string[] {
    const now = this.node.timers.now()
    const says = this.node.peers.get(addr)?.saysPunchMet === true
    return (this.pairs.get(addr) ?? []).filter((p) => (p.met === true || (!says && now - p.at >= BIRTHDAY_SETTLE_MS)) && now - p.at < BIRTHDAY_PAIR_MS).map((p) => p.peer)
  }

  /** Our hard side's punch with `peer` met: its introducer counts the pair as a path at once
   * rather than BIRTHDAY_SETTLE_MS after it introduced us (it fed us from its own leaf places
   * meanwhile: NAT-LAB.md, session 17). Said again at the next round (retellPunches): on that word
   * alone the introducer counts it. */
  punchMet(peer: string): void {
    if (this.tellMet(peer)) this.toRetell.set(peer, RETELLS)
  }

  /** Once a round: the punches that met are told again, against lost words, while their side
   * socket lives (a path we no longer hold is not claimed). */
  retellPunches(): void {
    const side = this.node.sidePeers()
    for (const [peer, left] of this.toRetell) {
      if (left <= 0 || !side.includes(peer) || !this.tellMet(peer)) this.toRetell.delete(peer)
      else this.toRetell.set(peer, left - 1)
    }
  }

  /** Tells the introducer we asked for the punch with `peer` that it met; false when there is none
   * to tell, or it is a build before the word (which would only count an unknown message). */
  private tellMet(peer: string): boolean {
    const asked = this.birthdays.get(peer)
    if (asked?.started !== true || this.node.peers.get(asked.via)?.saysPunchMet !== true) return false
    this.node.send(asked.via, [{ type: 'PunchMet', peer }])
    return true
  }

  /** Believed only of a pair we introduced, and only from its hard side: a viewer that claims a
   * punch that did not meet is sent to a peer it cannot reach and comes back to be fed here
   * (reachability.ts), as after a late punch; nobody else's placement changes. */
  private onPunchMet(peer: string, ctx: Ctx): void {
    if (!ctx.verified) return
    const pair = this.pairs.get(ctx.from)?.find((p) => p.peer === peer)
    if (pair !== undefined) pair.met = true
  }

  close(): void {
    this.node.off('greeting', this.onGreeting)
    this.node.off('peer-moved', this.onPeerMoved)
  }

  private refer(addr: string, teller: string): void {
    if (addr === teller || this.node.isSelf(addr)) return
    remember(this.referrals, addr, teller)
  }

  /** We just sent a datagram to an address that has not proven itself: if someone told us about
   * it, ask them to have it send to us at the same time. */
  private onGreeting = (to: string): void => {
    const teller = this.referrals.get(to)
    const now = this.node.timers.now()
    if (teller === undefined) return
    const t = this.node.peers.get(teller)
    if (!t?.verified || now - t.lastHeard > FRESH_MS) return
    // Behind a symmetric NAT the introduced hello would come to the mapping the introducer sees,
    // not the one our hello just opened: only a birthday punch can help.
    if (this.node.nat.kind === 'symmetric') return this.askBirthday(to, teller, now)
    if (now - (this.asked.get(to) ?? -Infinity) < INTRODUCE_AGAIN_MS) return
    remember(this.asked, to, now)
    this.counters.asked++
    this.node.send(teller, [{ type: 'PleaseIntroduceMe', to }])
  }

  /** Behind a symmetric NAT, once a round: ask for a birthday punch with a peer we were told of and
   * do not reach, without waiting to greet it (our hellos to hearsay peers go every 10 s at most). */
  seekBirthday(): void {
    const node = this.node
    if (node.nat.kind !== 'symmetric' || this.punch?.canStart('hard') !== true) return
    const now = node.timers.now()
    let seen = 0
    // Newest first: the peers listed to us last are the ones their teller heard lately.
    for (const [addr, teller] of [...this.referrals].reverse()) {
      if (++seen > BIRTHDAY_SCAN) return
      const p = node.peers.get(addr)
      if ((p?.verified === true && now - p.lastHeard < FRESH_MS) || (p !== undefined && node.peers.isBanned(p))) continue
      const t = node.peers.get(teller)
      if (!t?.verified || now - t.lastHeard > FRESH_MS) continue
      const before = this.counters.asked
      this.askBirthday(addr, teller, now)
      if (this.counters.asked > before) return
    }
  }

  private askBirthday(to: string, teller: string, now: number): void {
    const last = this.birthdays.get(to)
    if (this.punch?.canStart('hard') !== true || now - this.askedAt < BIRTHDAY_ANSWER_MS || this.node.sidePeers().length >= ENOUGH_PUNCHED || (last !== undefined && now - last.at < (last.started ? BIRTHDAY_AGAIN_MS : BIRTHDAY_UNANSWERED_MS))) return
    // Only a trusted introducer's answer starts our side: ask the teller if it is one, else a
    // stream's source (it hears from every viewer, so it can usually introduce us).
    const via = this.trusted(teller) ? teller : this.freshSource(now)
    if (via === undefined) return
    remember(this.birthdays, to, { at: now, via, started: false })
    this.askedAt = now
    this.counters.asked++
    // Our NAT's kind in the same datagram: the introducer refuses a birthday punch to a node it does
    // not know to be behind a symmetric NAT, and our news of it went in a datagram of its own,
    // which this ask may overtake (we ask as soon as we learn it: nat-traversal.ts apply).
    const behind = this.behind()
    this.node.send(via, [...(behind !== undefined ? [behind] : []), { type: 'PleaseIntroduceMe', to, birthday: true }])
  }

  /** Who may set us punching: the peers the user named and the sources of the streams we watch. A
   * punch sends hundreds of datagrams (or opens hundreds of sockets towards) an address the
   * introducer names; taken from any proven peer, it would make every viewer a reflector that a
   * hostile peer aims wherever it likes (review, session 8). */
  private trusted(addr: string): boolean {
    return this.node.streamSources.has(addr) || this.node.peers.get(addr)?.origin === 'configured'
  }

  private freshSource(now: number): string | undefined {
    for (const a of this.node.streamSources) {
      const p = this.node.peers.get(a)
      if (p?.verified === true && now - p.lastHeard < FRESH_MS && !this.node.peers.isBanned(p)) return a
    }
    return undefined
  }

  /** `ctx.from` wants to reach `to`: tell `to` to greet it at the address we see it at. A requester
   * behind a symmetric NAT that asks for a birthday punch with a peer behind a cone gets one:
   * each side is told its part at once, so both start within a round trip of each other. */
  private introduce(to: string, ctx: Ctx, birthday: boolean): void {
    const now = this.node.timers.now()
    const target = this.node.peers.get(to)
    const fresh = target !== undefined && target.verified && now - target.lastHeard < FRESH_MS && !this.node.peers.isBanned(target)
    if (!ctx.verified || !fresh || to === ctx.from || target.nat === 'symmetric' || !this.allow(ctx.from, now)) { this.counters.refused++; return }
    if (birthday) {
      // Anything else than symmetric to cone (as they told us) a birthday punch does not help, and
      // a plain introduction cannot reach a symmetric requester: the requester asks again later.
      if (ctx.peer.nat !== 'symmetric' || target.nat !== 'cone') { this.counters.refused++; return }
      this.counters.introduced++
      const plain = `${ctx.from} ${to}`
      if (target.mapped === true && now - (this.plainHellos.get(plain) ?? -Infinity) >= PLAIN_AGAIN_MS) {
        // Its router forwards the address we know it by (a port mapping it announced): the
        // requester's own hello passes, so it is told to send one. A punch would buy nothing for
        // its hundreds of sockets, their answers and the cone's probes (NAT lab, session 24).
        remember(this.plainHellos, plain, now)
        ctx.reply({ type: 'SayHelloTo', peer: to })
        return
      }
      this.counters.birthdays++
      const pairs = (this.pairs.get(ctx.from) ?? []).filter((p) => p.peer !== to && now - p.at < BIRTHDAY_PAIR_MS).slice(-(MAX_PAIRS - 1))
      remember(this.pairs, ctx.from, [...pairs, { peer: to, at: now }])
      this.node.send(to, [{ type: 'SayHelloTo', peer: ctx.from, birthday: 'easy' }])
      ctx.reply({ type: 'SayHelloTo', peer: to, birthday: 'hard' })
      return
    }
    this.counters.introduced++
    const hello: Message = { type: 'SayHelloTo', peer: ctx.from }
    this.node.send(to, [hello])
  }

  private allow(requester: string, now: number): boolean {
    let w = this.made.get(requester)
    if (!w || now - w.at >= WINDOW_MS) {
      w = { at: now, n: 0 }
      remember(this.made, requester, w)
    }
    return ++w.n <= INTRODUCTIONS_PER_WINDOW
  }

  /** A peer we trust says `peer` is sending to us: send to it now, so that its hello finds our NAT
   * open and ours opens its NAT. */
  private sayHello(peer: string, ctx: Ctx, birthday: BirthdaySide | undefined): void {
    const now = this.node.timers.now()
    if (!ctx.verified || this.node.isSelf(peer) || peer === ctx.from) return
    const p = this.node.peers.get(peer)
    if (p && (this.node.peers.isBanned(p) || (p.verified && now - p.lastHeard < 5000))) return
    if (birthday !== undefined) return this.startBirthday(peer, ctx.from, birthday, now)
    if (now - this.hellos.at >= WINDOW_MS) this.hellos = { at: now, n: 0 }
    if (++this.hellos.n > HELLOS_PER_WINDOW) return
    this.refer(peer, ctx.from)
    // This hello is the introduction's half already: asking for one back would only echo it.
    remember(this.asked, peer, now)
    this.counters.hellos++
    this.node.send(peer, [{ type: 'PleaseReturnThisMessage', value: now }, this.node.capabilities(peer)])
  }

  private startBirthday(peer: string, introducer: string, side: BirthdaySide, now: number): void {
    if (this.punch === null) return
    if (!this.trusted(introducer)) { this.counters.refused++; return }
    if (side === 'easy') {
      // Only behind a cone is our one mapping what the probes open; with no NAT a plain hello does.
      if (this.node.nat.kind === 'cone') void this.punch.startEasy(peer)
      return
    }
    // The hard side costs us hundreds of sockets: only for a punch we asked this introducer for.
    const asked = this.birthdays.get(peer)
    if (this.node.nat.kind !== 'symmetric' || asked?.via !== introducer || asked.started || now - asked.at >= BIRTHDAY_ANSWER_MS) return
    asked.started = true
    this.askedAt = -Infinity
    void this.punch.startHard(peer)
  }
}

/** Sets `key` as the newest entry of a map bounded at MAX_REFERRALS (the oldest goes first). */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key)
  if (map.size >= MAX_REFERRALS) map.delete(map.keys().next().value as string)
  map.set(key, value)
}
