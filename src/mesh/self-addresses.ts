// Every address that is this node. A node bound to a wildcard (0.0.0.0, ::) is reachable as each of
// its interface addresses on the bound port, and peers list it under whichever one they saw
// (the Rust node's MaybeTheyHaveSome and the Ruby client's Peers name our 127.0.0.1:PORT), so a
// check against the bound address alone lets a node ask, hint and hello itself.
import { networkInterfaces } from 'node:os'
import { isIP } from 'node:net'
import { formatAddress, parseAddress } from './transport.ts'

/** Addresses learned at run time (a datagram that proved to be our own): a handful at most. */
const MAX_LEARNED = 16

export class SelfAddresses {
  private known = new Set<string>()
  private learned: string[] = []

  /** `interfaces` is injectable for tests; by default the OS's, read once. */
  constructor(bound: string, interfaces: () => string[] = localInterfaceHosts) {
    if (bound) this.known.add(bound)
    const a = parseAddress(bound)
    if (!a) return
    const wildcard = a.host === '0.0.0.0' || a.host === '::'
    for (const host of wildcard ? interfaces() : []) {
      // A v4 wildcard takes v4 only; a v6 wildcard is dual-stack on Linux and takes both.
      if (a.host === '0.0.0.0' && isIP(host) !== 4) continue
      this.known.add(formatAddress(host, a.port))
      if (a.host === '::' && isIP(host) === 4) this.known.add(formatAddress(`::ffff:${host}`, a.port))
    }
  }

  has(addr: string): boolean { return this.known.has(addr) }

  /** Our socket's or an interface's address, not one learned from peers (a NAT's public mapping). */
  isLocal(addr: string): boolean { return this.known.has(addr) && !this.learned.includes(addr) }

  /** An address that turned out to be us (we heard our own hello from it). */
  learn(addr: string): void {
    if (this.known.has(addr)) return
    this.known.add(addr)
    this.learned.push(addr)
    if (this.learned.length > MAX_LEARNED) this.known.delete(this.learned.shift()!)
  }

  /** A learned address that is ours no more (a port mapping the gateway moved or lost). Our
   * socket's and interfaces' addresses stay. */
  forget(addr: string): void {
    const i = this.learned.indexOf(addr)
    if (i < 0) return
    this.learned.splice(i, 1)
    this.known.delete(addr)
  }
}

function localInterfaceHosts(): string[] {
  return Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address))
}
