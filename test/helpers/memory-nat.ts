// A home router for the in-process network, for deterministic NAT tests (virtual time, no root).
// It behaves as scripts/nat-lab.ts's routers do with real namespaces: a host behind it has a
// private address nobody can send to; what it sends leaves from a mapping (an endpoint of the
// network) that lets in only datagrams from addresses the host sent to through it. A `cone` router
// uses one mapping per host for every destination, on the host's own port (port-preserving, as
// MASQUERADE does when it can); a `symmetric` one opens a new mapping per destination.
import { MemoryNetwork, type MemoryTransport } from '../../src/mesh/link.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { CjNode } from '../../src/mesh/node.ts'
import { NatTraversal } from '../../src/mesh/nat/nat-traversal.ts'
import { generateStreamKey } from '../../src/store/keys.ts'
import { VirtualTimers } from '../../src/util/timers.ts'

export type MemoryNatKind = 'cone' | 'symmetric'

interface Mapping { t: MemoryTransport; allowed: Set<string> }

let lans = 0

export class NattedTransport implements Transport {
  readonly address: string
  private handler: (buf: Buffer, from: string) => void = () => {}
  private mappings = new Map<string, Mapping>()
  /** Datagrams the router dropped: from an address the host never sent to. */
  filtered = 0

  constructor(private net: MemoryNetwork, readonly kind: MemoryNatKind) {
    const lan = ++lans
    if (kind === 'cone') {
      const m = this.mapping('*')
      this.address = `10.${lan >> 8}.${lan & 255}.2:${portOf(m.t.address)}`
    } else {
      // A port no mapping has (the network numbers its endpoints from 40000 up).
      this.address = `10.${lan >> 8}.${lan & 255}.2:5000`
    }
  }

  /** The public address a destination sees this host at (after it sent there). */
  publicAddressTowards(to: string): string | undefined {
    return this.mappings.get(this.kind === 'cone' ? '*' : to)?.t.address
  }

  /** The router forgets every mapping and makes new ones on the next send (a NAT rebinding). */
  rebind(): void {
    for (const m of this.mappings.values()) void m.t.close()
    this.mappings.clear()
  }

  private mapping(key: string): Mapping {
    let m = this.mappings.get(key)
    if (!m) {
      const t = this.net.createTransport()
      const allowed = new Set<string>()
      t.onDatagram((buf, from) => { if (allowed.has(from)) this.handler(buf, from); else this.filtered++ })
      m = { t, allowed }
      this.mappings.set(key, m)
    }
    return m
  }

  send(buf: Buffer, to: string): void {
    const m = this.mapping(this.kind === 'cone' ? '*' : to)
    m.allowed.add(to)
    m.t.send(buf, to)
  }

  onDatagram(fn: (buf: Buffer, from: string) => void): void { this.handler = fn }

  async close(): Promise<void> {
    await Promise.all([...this.mappings.values()].map((m) => m.t.close()))
    this.mappings.clear()
  }
}

function portOf(addr: string): number { return Number(addr.slice(addr.lastIndexOf(':') + 1)) }

export interface NatLabMember { node: CjNode; nat: NatTraversal | null; transport: Transport }

/** Nodes on one in-process network in virtual time (5 ms a hop), each with NAT traversal (and a
 * node key) unless `traversal` is false: `add` one on a public endpoint or a NattedTransport. */
export function memoryNatLab(opts: { traversal?: boolean } = {}) {
  const timers = new VirtualTimers({ start: 1_000_000 })
  const net = new MemoryNetwork({ timers }, { link: { delayMs: 5, loss: 0 } })
  const members: NatLabMember[] = []
  const add = async (transport: Transport, peers: string[] = []): Promise<NatLabMember> => {
    const node = new CjNode({ transport, timers }, { bootstrap: peers, probeIntervalMs: 60_000 })
    const nat = opts.traversal === false ? null : new NatTraversal({ node, key: generateStreamKey() })
    await node.start()
    nat?.start()
    const m = { node, nat, transport }
    members.push(m)
    return m
  }
  const close = async () => { for (const m of members) { m.nat?.close(); await m.node.close() } }
  return { timers, net, add, close }
}
