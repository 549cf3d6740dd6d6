// Birthday hole punching: a path between a node behind a symmetric NAT (the `hard` side) and one
// behind a port-restricted cone (the `easy` side), which a plain simultaneous send cannot open (the
// symmetric NAT gives the hello to the cone a new, unknowable port; the cone lets in only the port
// it sent to). The hard side opens PUNCH_SOCKETS extra sockets and sends one probe from each to
// the cone's public address: its NAT makes that many mappings, on random ports, each of which lets
// the cone's address in. The easy side sends `probes` probes from its own socket to random ports of
// the hard side's public host: each opens the cone's filter for that port, and one that hits a
// mapped port passes the symmetric NAT. With 256 sockets and 1024 probes over 64512 ports, one
// does with probability 1 - (1 - 256/64512)^1024, about 98 %. The socket it arrived on is then the
// hard side's way to that peer (CjNode.adoptSide), kept open by keepalives; the others close.
//
// Both sides start on an introducer's word (introductions.ts: SayHelloTo with `birthday`), the
// hard side only for a peer it asked to be introduced to. One punch at a time, and a cap on the
// probes and sockets a minute, whoever asks: see docs/SECURITY.md for what one costs.
import type { Transport } from '../transport.ts'
import { formatAddress, parseAddress } from '../transport.ts'
import type { Timer, Timers } from '../../util/timers.ts'
import type { BirthdaySide } from '../messages.ts'
import { DEFAULT_PUNCH_PROBES, SPENT_PER_MINUTE } from './punch-limits.ts'

/** Sockets the hard side opens for one punch (each one NAT mapping). */
export const PUNCH_SOCKETS = 256
/** The easy side's pace: a home router's conntrack and uplink take this without notice. */
export const PROBES_PER_SECOND = 150
/** The easy side waits this long before its first probe, so the hard side's mappings exist. */
export const EASY_START_MS = 500
/** After its last probe the easy side waits this long for the hard side's answer. */
const LINGER_MS = 2000
const TICK_MS = 20
/** Ports a NAT gives out (below 1024 only a port a host already used). */
const FIRST_PORT = 1024
const PORTS = 65536 - FIRST_PORT
/** An ordinary cjp2p hello: a stray one that reaches some other node is answered or dropped as any. */
const PROBE = Buffer.from('[{"PleaseReturnThisMessage":0},{"PleaseSendPeers":{}}]')

export interface PunchComponents {
  timers: Timers
  /** Sends bytes from the node's own socket (the easy side's probes). */
  sendRaw(buf: Buffer, to: string): void
  /** One more UDP socket, bound as the node's (the hard side's mappings). */
  openSocket(): Promise<Transport>
  /** `peer` is spoken to through `t` from now on, `first` having arrived on it; false: refused. */
  adopt(t: Transport, peer: string, first: Buffer): boolean
  /** Greets `peer` (through the socket just adopted). */
  greet(peer: string): void
  /** The hard side's punch with `peer` met (its introducer hears it: introductions.ts punchMet). */
  met(peer: string): void
}

export interface PunchInit {
  /** Probes per punch on the easy side; 0 turns birthday punching off on both sides. */
  probes?: number
  sockets?: number
}

type State =
  | { kind: 'idle' }
  | { kind: 'hard'; peer: string; sockets: Transport[]; timer: Timer | undefined }
  | { kind: 'easy'; host: string; sent: number; timer: Timer | undefined }

export interface PunchCounters { started: number; punched: number; failed: number; refused: number; probes: number; sockets: number }

export class BirthdayPunch {
  private state: State = { kind: 'idle' }
  private spent: Array<{ at: number; n: number }> = []
  private closed = false
  readonly probes: number
  private readonly sockets: number
  readonly counters: PunchCounters = { started: 0, punched: 0, failed: 0, refused: 0, probes: 0, sockets: 0 }

  constructor(private c: PunchComponents, init: PunchInit = {}) {
    this.probes = Math.min(SPENT_PER_MINUTE, Math.max(0, Math.floor(init.probes ?? DEFAULT_PUNCH_PROBES)))
    this.sockets = Math.min(PUNCH_SOCKETS, Math.max(1, Math.floor(init.sockets ?? PUNCH_SOCKETS)))
  }

  get enabled(): boolean { return this.probes > 0 && !this.closed }
  get busy(): boolean { return this.state.kind !== 'idle' }
  get side(): BirthdaySide | null { return this.state.kind === 'idle' ? null : this.state.kind }

  /** Whether a punch of `side` could start now (one at a time, within the minute's budget). */
  canStart(side: BirthdaySide): boolean {
    return this.enabled && this.state.kind === 'idle' && this.spentLastMinute() + this.cost(side) <= SPENT_PER_MINUTE
  }

  /** The hard side: open our sockets, a probe from each to `peer` (the cone's public address). */
  async startHard(peer: string): Promise<boolean> {
    if (!this.canStart('hard') || parseAddress(peer) === null) { this.counters.refused++; return false }
    const st: State & { kind: 'hard' } = { kind: 'hard', peer, sockets: [], timer: undefined }
    this.state = st
    this.charge(this.sockets)
    this.counters.started++
    // The easy side's probes take probes/rate s from its start: ours wait that long, and a little.
    st.timer = this.c.timers.setTimeout(() => this.end(st, false), EASY_START_MS + (this.probes / PROBES_PER_SECOND) * 1000 + LINGER_MS)
    const opened = await Promise.allSettled(Array.from({ length: this.sockets }, () => this.c.openSocket()))
    for (const r of opened) {
      if (r.status !== 'fulfilled') continue
      // Ended while they opened (closed, or timed out): nothing to probe with.
      if (this.state !== st) { void r.value.close(); continue }
      const t = r.value
      st.sockets.push(t)
      this.counters.sockets++
      t.onDatagram((buf, from) => { if (from === peer && this.state === st) this.won(st, t, buf) })
      t.send(PROBE, peer)
    }
    if (this.state === st && st.sockets.length === 0) this.end(st, false)
    return true
  }

  /** The easy side: probes from our socket to random ports of `peer`'s host (the symmetric NAT's). */
  startEasy(peer: string): boolean {
    const a = parseAddress(peer)
    if (!this.canStart('easy') || a === null) { this.counters.refused++; return false }
    const st: State & { kind: 'easy' } = { kind: 'easy', host: a.host, sent: 0, timer: undefined }
    this.state = st
    this.charge(this.probes)
    this.counters.started++
    const perTick = Math.max(1, Math.round(PROBES_PER_SECOND * TICK_MS / 1000))
    st.timer = this.c.timers.setTimeout(() => {
      st.timer = this.c.timers.setInterval(() => {
        for (let i = 0; i < perTick && st.sent < this.probes; i++, st.sent++) {
          this.c.sendRaw(PROBE, formatAddress(a.host, FIRST_PORT + Math.floor(this.c.timers.random() * PORTS)))
          this.counters.probes++
        }
        if (st.sent < this.probes) return
        this.c.timers.clear(st.timer)
        st.timer = this.c.timers.setTimeout(() => this.end(st, false), LINGER_MS)
      }, TICK_MS)
    }, EASY_START_MS)
    return true
  }

  /** A datagram came from an address we never saw: on the easy side, one from the hard side's
   * host is its answer through a mapping our probes opened (the node handles it as any other). */
  heard(from: string): void {
    const st = this.state
    if (st.kind === 'easy' && parseAddress(from)?.host === st.host) this.end(st, true)
  }

  close(): void {
    this.closed = true
    if (this.state.kind !== 'idle') this.end(this.state, false)
  }

  private won(st: State & { kind: 'hard' }, t: Transport, first: Buffer): void {
    st.sockets = st.sockets.filter((s) => s !== t)
    if (!this.c.adopt(t, st.peer, first)) { void t.close(); this.end(st, false); return }
    this.end(st, true)
    this.c.greet(st.peer)
    this.c.met(st.peer)
  }

  private end(st: State & { kind: 'hard' | 'easy' }, ok: boolean): void {
    if (this.state !== st) return
    this.state = { kind: 'idle' }
    this.c.timers.clear(st.timer)
    if (st.kind === 'hard') for (const t of st.sockets) void t.close()
    if (ok) this.counters.punched++
    else this.counters.failed++
  }

  private cost(side: BirthdaySide): number { return side === 'hard' ? this.sockets : this.probes }

  private charge(n: number): void { this.spent.push({ at: this.c.timers.now(), n }) }

  private spentLastMinute(): number {
    const now = this.c.timers.now()
    this.spent = this.spent.filter((s) => now - s.at < 60_000)
    return this.spent.reduce((n, s) => n + s.n, 0)
  }
}
