// The DHT's routing table: k-buckets (the `k-bucket` package, the table bittorrent-dht uses) over
// 256-bit node ids, with the admission rules that keep strangers from owning it. Only addresses that
// proved themselves (echoed our cookie) are offered to it; a full bucket keeps its old contacts
// unless one of them has gone quiet, so a flood of fresh ids cannot push out nodes that work
// (Kademlia's preference for long-lived contacts is its Sybil defence).
import KBucket from 'k-bucket'
import { parseAddress } from '../transport.ts'
import type { Clock } from '../../util/timers.ts'
import { nodeIdOf } from './node-id.ts'

export interface Contact {
  id: Uint8Array
  /** The node's ed25519 public key, hex: what we tell others. */
  key: string
  addr: string
  /** When we last heard from it (k-bucket's arbiter keeps the larger). */
  vectorClock: number
}

/** Contacts per bucket (Kademlia's k). 16: a 200-node swarm then knows its neighbourhood whole. */
export const BUCKET_SIZE = 16
/** All contacts: ids are sha256 of keys, so deep buckets cost an attacker exponential grinding,
 * but the sum must still have a ceiling because every contact costs memory and refresh traffic. */
export const MAX_CONTACTS = 2048
/** Contacts per host (IP): one machine gets no more say in our routing than a couple of nodes
 * would. Loopback is exempt: it is this machine, where a test or demo runs many nodes. */
export const MAX_CONTACTS_PER_HOST = 2
/** A contact not heard from for this long may be replaced by a newcomer in a full bucket. */
export const STALE_CONTACT_MS = 15 * 60_000
/** Unanswered queries in a row after which a contact leaves the table. */
const MAX_FAILURES = 2

export interface RoutingTableInit { localId: Uint8Array; bucketSize?: number; maxContacts?: number; maxPerHost?: number }

export class RoutingTable {
  private buckets: KBucket<Contact>
  private byAddr = new Map<string, Contact>()
  private perHost = new Map<string, number>()
  private failures = new Map<string, number>()
  private readonly maxContacts: number
  private readonly maxPerHost: number
  private readonly clock: Clock

  constructor(c: { clock: Clock; lastHeard?: (addr: string) => number }, init: RoutingTableInit) {
    this.clock = c.clock
    this.maxContacts = init.maxContacts ?? MAX_CONTACTS
    this.maxPerHost = init.maxPerHost ?? MAX_CONTACTS_PER_HOST
    this.buckets = new KBucket<Contact>({ localNodeId: init.localId, numberOfNodesPerKBucket: init.bucketSize ?? BUCKET_SIZE, numberOfNodesToPing: 3 })
    const lastHeard = c.lastHeard ?? ((addr: string) => this.byAddr.get(addr)?.vectorClock ?? 0)
    this.buckets.on('ping', (old: Contact[], newcomer: Contact) => {
      const now = this.clock.now()
      const stale = old.find((o) => now - Math.max(o.vectorClock, lastHeard(o.addr)) > STALE_CONTACT_MS)
      if (!stale) return
      this.remove(stale.addr)
      this.buckets.add(newcomer)
    })
    this.buckets.on('added', (ct: Contact) => this.index(ct, 1))
    this.buckets.on('removed', (ct: Contact) => this.index(ct, -1))
    this.buckets.on('updated', (_old: Contact, ct: Contact) => { this.byAddr.set(ct.addr, ct) })
  }

  get size(): number { return this.byAddr.size }

  /** Offers a proven address and the key it claims. Returns whether it is in the table now. */
  add(key: string, addr: string): boolean {
    const id = nodeIdOf(key)
    if (Buffer.from(id).equals(Buffer.from(this.buckets.localNodeId))) return false
    const now = this.clock.now()
    const had = this.byAddr.get(addr)
    this.failures.delete(addr)
    if (had && had.key !== key) this.remove(addr) // a new node on an old address (restart, NAT reuse)
    else if (had) { this.buckets.add({ ...had, vectorClock: now }); return true }
    if (this.byAddr.size >= this.maxContacts) return false
    const host = hostOf(addr)
    if (!isLoopback(host) && (this.perHost.get(host) ?? 0) >= this.maxPerHost) return false
    const existing = this.buckets.get(id)
    if (existing && existing.addr !== addr) return false // an id already held by a working address stays there
    this.buckets.add({ id, key, addr, vectorClock: now })
    return this.byAddr.get(addr)?.key === key
  }

  /** A query to it went unanswered; twice in a row and it leaves. */
  failed(addr: string): void {
    if (!this.byAddr.has(addr)) return
    const n = (this.failures.get(addr) ?? 0) + 1
    if (n >= MAX_FAILURES) this.remove(addr)
    else this.failures.set(addr, n)
  }

  remove(addr: string): void {
    const ct = this.byAddr.get(addr)
    this.failures.delete(addr)
    if (ct) this.buckets.remove(ct.id)
  }

  get(addr: string): Contact | undefined { return this.byAddr.get(addr) }

  closest(target: Uint8Array, n: number): Contact[] { return this.buckets.closest(target, n) }

  all(): Contact[] { return [...this.byAddr.values()] }

  private index(ct: Contact, delta: 1 | -1): void {
    const host = hostOf(ct.addr)
    if (delta > 0) this.byAddr.set(ct.addr, ct)
    else if (this.byAddr.get(ct.addr) === ct || this.byAddr.get(ct.addr)?.key === ct.key) this.byAddr.delete(ct.addr)
    const n = (this.perHost.get(host) ?? 0) + delta
    if (n > 0) this.perHost.set(host, n)
    else this.perHost.delete(host)
  }
}

function hostOf(addr: string): string { return parseAddress(addr)?.host ?? addr }

function isLoopback(host: string): boolean { return host === '::1' || host.startsWith('127.') }
