// Which shared files are named with a word, as their providers told us (IHaveNamed), so that
// searchers can be told (TheseAreNamed). Like the provider store, every table here is filled by
// strangers: each has a cap, each entry expires unless announced again, and old entries keep their
// place when a table is full (a flood of new names cannot flush what honest nodes announced).
import type { Clock } from '../../util/timers.ts'
import type { NamedItem } from '../messages.ts'
import { MAX_NAMED_ITEMS, MAX_NAMED_PEERS } from '../messages.ts'
import { AnnounceRate } from './announce-rate.ts'
import { PROVIDER_TTL_MS, MAX_ANNOUNCES_PER_MINUTE } from './provider-store.ts'

/** Words we hold names for: a word with its files costs a few KB at most; 2048 is a few MB. */
export const MAX_WORDS = 2048
/** Files kept per word: an answer carries 16; the rest wait for those to expire. */
export const MAX_FILES_PER_WORD = 32
/** Providers kept per file under a word: enough to count and to start a get from. */
export const MAX_PROVIDERS_PER_FILE = 8

export type NamedVerdict = 'stored' | 'refreshed' | 'rate_limited' | 'words_full' | 'files_full' | 'providers_full'

interface Entry { name: string; size: number; providers: Map<string, number> }

export class KeywordStore {
  /** word -> file id -> entry. */
  private byWord = new Map<string, Map<string, Entry>>()
  private rate: AnnounceRate

  constructor(private clock: Clock, private limits = { maxWords: MAX_WORDS, maxFiles: MAX_FILES_PER_WORD, maxProviders: MAX_PROVIDERS_PER_FILE }) {
    this.rate = new AnnounceRate(clock, MAX_ANNOUNCES_PER_MINUTE)
  }

  get words(): number { return this.byWord.size }

  add(word: string, item: { id: string; name: string; size: number }, addr: string, expires?: number): NamedVerdict {
    const now = this.clock.now()
    if (expires === undefined && !this.rate.charge(addr)) return 'rate_limited'
    let files = this.byWord.get(word)
    if (files && !files.has(item.id) && files.size >= this.limits.maxFiles) {
      this.expire(word, now)
      files = this.byWord.get(word)
    }
    if (!files) {
      if (this.byWord.size >= this.limits.maxWords) return 'words_full'
      files = new Map()
      this.byWord.set(word, files)
    }
    let e = files.get(item.id)
    if (!e) {
      if (files.size >= this.limits.maxFiles) return 'files_full'
      e = { name: item.name, size: item.size, providers: new Map() }
      files.set(item.id, e)
    }
    const refreshed = e.providers.delete(addr)
    if (!refreshed && e.providers.size >= this.limits.maxProviders) return 'providers_full'
    // The provider's own name for the file wins over what an earlier provider said.
    if (!refreshed || e.providers.size === 0) { e.name = item.name; e.size = item.size }
    e.providers.set(addr, expires ?? now + PROVIDER_TTL_MS)
    return refreshed ? 'refreshed' : 'stored'
  }

  /** Up to MAX_NAMED_ITEMS live files named with `word`, those with the most providers first. */
  get(word: string): NamedItem[] {
    this.expire(word, this.clock.now())
    const files = this.byWord.get(word)
    if (!files) return []
    return [...files].map(([id, e]): NamedItem => ({ id, name: e.name, size: e.size, providers: e.providers.size, peers: [...e.providers.keys()].reverse().slice(0, MAX_NAMED_PEERS) }))
      .sort((a, b) => (b.providers ?? 0) - (a.providers ?? 0)).slice(0, MAX_NAMED_ITEMS)
  }

  /** Every live announcement, for persistence. */
  *entries(): Generator<{ word: string; id: string; name: string; size: number; addr: string; expires: number }> {
    for (const [word, files] of this.byWord) {
      for (const [id, e] of files) for (const [addr, expires] of e.providers) yield { word, id, name: e.name, size: e.size, addr, expires }
    }
  }

  sweep(): void {
    const now = this.clock.now()
    for (const word of [...this.byWord.keys()]) this.expire(word, now)
    this.rate.sweep()
  }

  private expire(word: string, now: number): void {
    const files = this.byWord.get(word)
    if (!files) return
    for (const [id, e] of files) {
      for (const [addr, until] of e.providers) if (until <= now) e.providers.delete(addr)
      if (e.providers.size === 0) files.delete(id)
    }
    if (files.size === 0) this.byWord.delete(word)
  }
}
