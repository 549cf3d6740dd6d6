// Who provides what, as told to us by the providers themselves (IHave) so that we can tell askers
// (TheyHave). Every table here is filled by strangers, so every one has a cap; each entry expires
// unless its provider announces again.
import type { Clock } from '../../util/timers.ts'
import { AnnounceRate } from './announce-rate.ts'

/** An announcement lives this long unless refreshed (providers refresh at a third of it). */
export const PROVIDER_TTL_MS = 30 * 60_000
/** Ids we hold providers for: one entry costs ~1 KB with its providers; 4096 is a few MB at worst. */
export const MAX_KEYS = 4096
/** Providers kept per id: an asker is told at most 16, the rest only replace those that expire. */
export const MAX_PROVIDERS_PER_KEY = 20
/** Announcements one address may make per minute: a node refreshing a few hundred ids every ten
 * minutes stays under it; a flood from one address stops here. */
export const MAX_ANNOUNCES_PER_MINUTE = 120

export type AnnounceVerdict = 'stored' | 'refreshed' | 'rate_limited' | 'keys_full' | 'providers_full'

export class ProviderStore {
  /** id -> provider address -> expiry. */
  private byId = new Map<string, Map<string, number>>()
  private rate: AnnounceRate

  constructor(private clock: Clock, private limits = { maxKeys: MAX_KEYS, maxProvidersPerKey: MAX_PROVIDERS_PER_KEY, perMinute: MAX_ANNOUNCES_PER_MINUTE }) {
    this.rate = new AnnounceRate(clock, limits.perMinute)
  }

  get keys(): number { return this.byId.size }

  /** `expires`: restoring a saved announcement (not charged to the announcer's rate). */
  add(id: string, addr: string, expires?: number): AnnounceVerdict {
    const now = this.clock.now()
    if (expires === undefined && !this.rate.charge(addr)) return 'rate_limited'
    let providers = this.byId.get(id)
    if (!providers) {
      // Old entries keep their place: a flood of new ids cannot flush what honest nodes announced.
      if (this.byId.size >= this.limits.maxKeys) return 'keys_full'
      providers = new Map()
      this.byId.set(id, providers)
    }
    const refreshed = providers.delete(addr)
    if (!refreshed && providers.size >= this.limits.maxProvidersPerKey) {
      this.expire(id, providers, now)
      if (providers.size >= this.limits.maxProvidersPerKey) return 'providers_full'
    }
    providers.set(addr, expires ?? now + PROVIDER_TTL_MS) // re-inserted: the map's order is freshest last
    return refreshed ? 'refreshed' : 'stored'
  }

  /** Up to `n` live providers of `id`, freshest first. */
  get(id: string, n: number): string[] {
    const providers = this.byId.get(id)
    if (!providers) return []
    this.expire(id, providers, this.clock.now())
    return [...providers.keys()].reverse().slice(0, n)
  }

  /** Every live announcement, for persistence. */
  *entries(): Generator<{ id: string; addr: string; expires: number }> {
    for (const [id, providers] of this.byId) for (const [addr, expires] of providers) yield { id, addr, expires }
  }

  /** Drops every expired announcement (run now and then; reads also drop their own). */
  sweep(): void {
    const now = this.clock.now()
    for (const [id, providers] of this.byId) this.expire(id, providers, now)
    this.rate.sweep()
  }

  private expire(id: string, providers: Map<string, number>, now: number): void {
    for (const [addr, until] of providers) if (until <= now) providers.delete(addr)
    if (providers.size === 0) this.byId.delete(id)
  }
}
