// Names and search: a node's shared files by name, listed to any peer that asks
// (PleaseListWhatYouHave) and found by a word of their name across the DHT.
//
// A sharer announces each word of a file's name (name-words.ts) to the nodes nearest
// sha256("word/<word>") as IHaveNamed, and refreshes it like IHave. A search walks towards the word's
// position asking WhoHasNamed; every node on the way answers TheseAreNamed with what it holds for the
// word and TheseAreNear to go on with. Only the one word whose position the search walks is looked
// up (the longest, the rarest as a rule); the other words filter the names that come back.
// Trust: names are what strangers said. An announcement is taken only from a proven address, only
// for a word its own name contains, within the keyword store's caps and per-address rate; a name is
// shown, never used as a path, and a `get` still verifies the content against its id.
import type { CjNode, Ctx } from '../node.ts'
import type { MessageOf, NamedItem } from '../messages.ts'
import { MAX_NAMED_ITEMS, MAX_NAMED_PEERS, encodedSize } from '../messages.ts'
import type { Timer } from '../../util/timers.ts'
import type { Dht } from './dht.ts'
import { ANNOUNCE_EVERY_MS } from './dht.ts'
import { KeywordStore } from './keyword-store.ts'
import type { NamedVerdict } from './keyword-store.ts'
import { keyOf } from './node-id.ts'
import { nameMatches, wordsOf } from './name-words.ts'

/** Bytes of names one listing page carries: a page must fit a classic-size datagram with room to spare. */
const LIST_PAGE_BYTES = 4096
/** Items a `list` collects before it stops paging: a listing is for people to read. */
export const MAX_LIST_ITEMS = 2000
/** A listing page unanswered for this long ends the listing. */
const LIST_PAGE_TIMEOUT_MS = 2000
/** Keyword announcements running at once: each is a lookup of up to 96 queries. */
const MAX_ANNOUNCING = 2
/** Results a search keeps (distinct file ids) while collecting answers. */
const MAX_SEARCH_RESULTS = 200
const TICK_MS = 1000
const SWEEP_EVERY_MS = 60_000

export interface SearchHit { id: string; name: string; size: number; providers: number; peers: string[] }
export interface NameIndexComponents { node: CjNode; dht: Dht }

export const wordKey = (word: string): Buffer => keyOf(`word/${word}`)

export class NameIndex {
  readonly keywords: KeywordStore
  readonly counters = { namedSent: 0, named: {} as Partial<Record<NamedVerdict | 'unverified' | 'not_in_name', number>>, searches: 0, listings: 0 }
  private node: CjNode
  private dht: Dht
  /** What we share, by id, in the order it was shared: the listing's order. */
  private catalog = new Map<string, { name: string; size: number; named: boolean }>()
  /** word + '\n' + id -> when it is next due to be announced. */
  private due = new Map<string, number>()
  /** Collectors of the searches running now, by word. */
  private searching = new Map<string, Array<(items: NamedItem[]) => void>>()
  /** The listing waiting for a page from each address. */
  private listing = new Map<string, (m: MessageOf<'HereIsWhatIHave'>) => void>()
  private announcing = 0
  private sweepAt = 0
  private timer?: Timer
  private closed = false

  constructor(c: NameIndexComponents) {
    this.node = c.node
    this.dht = c.dht
    this.keywords = new KeywordStore(c.node.timers)
    c.node.handle('IHaveNamed', (m, ctx) => this.onIHaveNamed(m, ctx))
    c.node.handle('WhoHasNamed', (m, ctx) => this.onWhoHasNamed(m, ctx))
    c.node.handle('TheseAreNamed', (m, ctx) => this.onTheseAreNamed(m, ctx))
    c.node.handle('PleaseListWhatYouHave', (m, ctx) => this.onListRequest(m, ctx))
    c.node.handle('HereIsWhatIHave', (m, ctx) => this.listing.get(ctx.from)?.(m))
  }

  start(): void {
    if (this.timer || this.closed) return
    this.timer = this.node.timers.setInterval(() => this.tick(), TICK_MS)
  }

  /** Lists `id` as shared; with a name (not just its id), announces the name's words too. */
  provide(item: { id: string; name?: string; size: number }): void {
    const named = item.name !== undefined && item.name !== item.id
    this.catalog.delete(item.id)
    this.catalog.set(item.id, { name: item.name ?? item.id, size: item.size, named })
    if (named) for (const w of wordsOf(item.name!)) if (!this.due.has(`${w}\n${item.id}`)) this.due.set(`${w}\n${item.id}`, 0)
    this.tick()
  }

  /** What we share, as a listing shows it. */
  shared(): NamedItem[] { return [...this.catalog].map(([id, e]) => ({ id, name: e.name, size: e.size })) }

  /** Finds shared files whose names hold every word of `text`, across the DHT. */
  async search(text: string): Promise<SearchHit[]> {
    const words = wordsOf(text)
    if (words.length === 0) return []
    this.counters.searches++
    const word = words.reduce((a, b) => (b.length > a.length ? b : a))
    const hits = new Map<string, SearchHit>()
    const take = (items: NamedItem[]) => {
      for (const it of items) {
        if (!nameMatches(it.name, words)) continue
        let h = hits.get(it.id)
        if (!h) {
          if (hits.size >= MAX_SEARCH_RESULTS) continue
          h = { id: it.id, name: it.name, size: it.size, providers: 0, peers: [] }
          hits.set(it.id, h)
        }
        for (const p of it.peers ?? []) if (!h.peers.includes(p) && !this.node.isSelf(p) && h.peers.length < 4 * MAX_NAMED_PEERS) h.peers.push(p)
        // Each answerer counts the providers it holds; they overlap, so the largest count is the estimate.
        h.providers = Math.max(h.providers, it.providers ?? 0, h.peers.length)
      }
    }
    take(this.keywords.get(word))
    const collectors = this.searching.get(word) ?? []
    collectors.push(take)
    this.searching.set(word, collectors)
    try {
      await this.dht.walk(wordKey(word), { type: 'WhoHasNamed', word, key: this.dht.key })
    } finally {
      collectors.splice(collectors.indexOf(take), 1)
      if (collectors.length === 0) this.searching.delete(word)
    }
    return [...hits.values()].sort((a, b) => b.providers - a.providers || a.name.localeCompare(b.name))
  }

  /** What the peer at `addr` shares (id, name, size), page by page. */
  async list(addr: string, opts: { pageTimeoutMs?: number } = {}): Promise<NamedItem[]> {
    if (this.listing.has(addr)) throw new Error(`a listing of ${addr} is already running`)
    this.counters.listings++
    const items: NamedItem[] = []
    let from = 0
    try {
      for (;;) {
        const page = await new Promise<MessageOf<'HereIsWhatIHave'> | null>((resolve) => {
          const t = this.node.timers.setTimeout(() => { this.listing.delete(addr); resolve(null) }, opts.pageTimeoutMs ?? LIST_PAGE_TIMEOUT_MS)
          this.listing.set(addr, (m) => {
            if (m.from !== from) return // a late page of an earlier ask
            this.node.timers.clear(t)
            this.listing.delete(addr)
            resolve(m)
          })
          this.node.send(addr, [{ type: 'PleaseListWhatYouHave', from }])
        })
        if (!page) {
          if (from === 0) throw new Error(`${addr} did not answer a listing (not a cjp2p-stream node, or not reachable)`)
          break
        }
        items.push(...page.items)
        if (page.next === undefined || page.next <= from || items.length >= MAX_LIST_ITEMS || this.closed) break
        from = page.next
      }
    } finally {
      this.listing.delete(addr)
    }
    return items.slice(0, MAX_LIST_ITEMS)
  }

  // ---- answering ----

  private onIHaveNamed(m: MessageOf<'IHaveNamed'>, ctx: Ctx): void {
    // An announcement names the sender's own address, so it must be the sender's: proven. And a
    // word its name does not hold would let one file squat every popular word.
    const verdict = !ctx.verified ? 'unverified' : !wordsOf(m.name, Infinity).includes(m.word) ? 'not_in_name'
      : this.keywords.add(m.word, m, ctx.from)
    this.counters.named[verdict] = (this.counters.named[verdict] ?? 0) + 1
  }

  private onWhoHasNamed(m: MessageOf<'WhoHasNamed'>, ctx: Ctx): void {
    this.dht.learn(m.key, ctx)
    const reply: MessageOf<'TheseAreNamed'> = { type: 'TheseAreNamed', word: m.word, items: this.keywords.get(m.word) }
    // What fits the reply budget goes, most provided first; the near nodes go after it regardless.
    const room = ctx.room() - 1200
    while (reply.items.length > 0 && encodedSize(reply) > Math.min(room, LIST_PAGE_BYTES)) reply.items.pop()
    if (reply.items.length > 0) ctx.reply(reply)
    this.dht.answerNear(wordKey(m.word).toString('hex'), ctx)
  }

  private onTheseAreNamed(m: MessageOf<'TheseAreNamed'>, ctx: Ctx): void {
    // Only answers to a question we asked that node count.
    if (!this.dht.isAsking(ctx.from, wordKey(m.word).toString('hex'))) return
    for (const take of this.searching.get(m.word) ?? []) take(m.items)
  }

  private onListRequest(m: MessageOf<'PleaseListWhatYouHave'>, ctx: Ctx): void {
    const all = this.shared()
    const page: MessageOf<'HereIsWhatIHave'> = { type: 'HereIsWhatIHave', from: m.from, items: all.slice(m.from, m.from + MAX_NAMED_ITEMS) }
    const budget = Math.min(ctx.room(), LIST_PAGE_BYTES)
    while (page.items.length > 0 && encodedSize(page) > budget) page.items.pop()
    if (m.from + page.items.length < all.length && page.items.length > 0) page.next = m.from + page.items.length
    if (encodedSize(page) <= ctx.room()) ctx.reply(page)
  }

  // ---- announcing ----

  private tick(): void {
    if (this.closed) return
    const now = this.node.timers.now()
    if (now >= this.sweepAt) { this.keywords.sweep(); this.sweepAt = now + SWEEP_EVERY_MS }
    if (this.dht.table.size === 0) return
    for (const [k, at] of this.due) {
      if (this.announcing >= MAX_ANNOUNCING) break
      if (at > now) continue
      const [word, id] = k.split('\n')
      const e = this.catalog.get(id)
      if (!e) { this.due.delete(k); continue }
      this.due.set(k, now + ANNOUNCE_EVERY_MS)
      void this.announce(word, id, e)
    }
  }

  private async announce(word: string, id: string, e: { name: string; size: number }): Promise<void> {
    this.announcing++
    try {
      const r = await this.dht.findNodes(wordKey(word))
      if (this.closed) return
      for (const c of r.closest) {
        this.node.send(c.addr, [{ type: 'IHaveNamed', word, id, name: e.name, size: e.size }])
        this.counters.namedSent++
      }
      // Nobody answered: try again soon rather than in ten minutes.
      if (r.closest.length === 0) this.due.set(`${word}\n${id}`, this.node.timers.now() + 5 * TICK_MS)
    } catch (err) {
      this.node.log.warn('name announcement failed', { err })
    } finally {
      this.announcing--
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.node.timers.clear(this.timer)
  }
}
