// LL-HLS blocking playlist reload (RFC 8216bis 6.2.5.2): a request with `_HLS_msn=M[&_HLS_part=P]`
// is held until the playlist would list that part (or segment M whole), so a player learns of a new
// part within milliseconds of its bytes being verified instead of polling for it. Held at most a
// bound (three target durations, as the RFC says); then 503 and the player asks again.
import type { StreamLogReader } from '../store/stream-types.ts'
import type { Timers } from '../util/timers.ts'

export type ReloadRequest = { msn: number; part: number | null } | null

/** The query's directive, null when there is none, or an error string for a 400. */
export function parseReloadQuery(query: Record<string, unknown>): ReloadRequest | string {
  const msn = query._HLS_msn
  const part = query._HLS_part
  if (msn === undefined) return part === undefined ? null : '_HLS_part without _HLS_msn'
  const m = decimal(msn)
  if (m === null) return 'bad _HLS_msn'
  if (part === undefined) return { msn: m, part: null }
  const p = decimal(part)
  return p === null ? 'bad _HLS_part' : { msn: m, part: p }
}

function decimal(x: unknown): number | null {
  return typeof x === 'string' && /^\d{1,15}$/.test(x) ? Number(x) : null
}

/** Resolves true once `ready()` holds (re-checked whenever the log gains a chunk or record or
 * ends), false after `timeoutMs` or when `cancel` fires first (the client left). */
export function waitUntil(log: StreamLogReader, timers: Pick<Timers, 'setTimeout' | 'clear'>, ready: () => boolean,
  timeoutMs: number, cancel?: (stop: () => void) => void): Promise<boolean> {
  if (ready()) return Promise.resolve(true)
  return new Promise((resolve) => {
    let done = false
    const finish = (ok: boolean): void => {
      if (done) return
      done = true
      timers.clear(timer)
      log.off('chunk', check)
      log.off('segment', check)
      log.off('end', check)
      resolve(ok)
    }
    const check = (): void => { if (ready()) finish(true) }
    const timer = timers.setTimeout(() => finish(ready()), timeoutMs)
    log.on('chunk', check)
    log.on('segment', check)
    log.on('end', check)
    cancel?.(() => finish(false))
  })
}
