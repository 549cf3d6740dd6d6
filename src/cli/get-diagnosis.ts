// What a `get` that is not receiving is waiting for, in words, and when to stop waiting. A cjp2p
// peer that lacks a file says nothing to the request (or points at holders), but it does answer
// hellos: so a peer heard from since we started, that sent no byte of the file, lacks it.
import { CodedError } from '../util/coded-error.ts'
import type { DownloadProgress } from '../mesh/file-download.ts'

export type GetGiveUpCode = 'ERR_NO_ANSWER' | 'ERR_NOT_FOUND' | 'ERR_STALLED'
export class GetGaveUp extends CodedError<GetGiveUpCode> {}

export interface GetWaits {
  /** Quiet this long before the line says what we are waiting for. */
  sayAfterMs: number
  /** Every peer answered and none sent a byte of the file for this long: it is not there. */
  lackMs: number
  /** No peer answered at all for this long. */
  silentMs: number
  /** Peers sent some of the file, then nothing for this long. */
  stalledMs: number
}

/** Defaults; an explicit --timeout replaces silentMs and stalledMs and caps lackMs. */
export const DEFAULT_GET_WAITS: GetWaits = { sayAfterMs: 3000, lackMs: 5000, silentMs: 15_000, stalledMs: 60_000 }

export function getWaits(timeoutSeconds?: number): GetWaits {
  if (timeoutSeconds === undefined) return DEFAULT_GET_WAITS
  const t = timeoutSeconds * 1000
  return { sayAfterMs: Math.min(DEFAULT_GET_WAITS.sayAfterMs, t), lackMs: Math.min(DEFAULT_GET_WAITS.lackMs, t), silentMs: t, stalledMs: t }
}

export interface GetView {
  /** A line describing the wait (null: show ordinary progress). */
  line: string | null
  giveUp: GetGaveUp | null
}

export class GetDiagnosis {
  private lastBytes = -1
  private lastGrowthAt: number

  constructor(private readonly id: string, private readonly startedAt: number, private readonly waits: GetWaits) {
    this.lastGrowthAt = startedAt
  }

  /** `asked`: the peers the download asks; `heard`: those of them heard from since it started. */
  observe(p: DownloadProgress, asked: string[], heard: string[], now: number): GetView {
    if (p.bytes !== this.lastBytes) { this.lastBytes = p.bytes; this.lastGrowthAt = now }
    const quiet = now - this.lastGrowthAt
    const since = now - this.startedAt
    const s = (n: number) => `${n} peer${n === 1 ? '' : 's'}`
    if (p.size !== undefined) {
      // Someone has it (it told us the size): the question is only whether bytes keep coming.
      if (quiet < this.waits.sayAfterMs) return { line: null, giveUp: null }
      const line = `peers have ${this.id.slice(0, 12)}… but stopped sending: no block for ${Math.round(quiet / 1000)} s`
      return { line, giveUp: quiet >= this.waits.stalledMs ? new GetGaveUp('ERR_STALLED', `download of ${this.id} stalled: peers had it but sent no block for ${Math.round(quiet / 1000)} s`) : null }
    }
    if (asked.length === 0) {
      const line = 'no peers to ask: give --peer host:port (or CJP2P_PEERS)'
      return { line, giveUp: since >= this.waits.silentMs ? new GetGaveUp('ERR_NO_ANSWER', `no peers to ask for ${this.id}; give --peer host:port`) : null }
    }
    // Before anyone sent a byte there is no progress to show, only what we wait for.
    const asking = `asking ${s(asked.length)} for ${this.id.slice(0, 12)}…`
    if (heard.length === 0) {
      const line = since < this.waits.sayAfterMs ? asking : `no answer yet from ${asked.join(', ')}: is a node running there?`
      return { line, giveUp: since >= this.waits.silentMs ? new GetGaveUp('ERR_NO_ANSWER', `no peer answered in ${Math.round(since / 1000)} s (asked ${asked.join(', ')}); is a node running there?`) : null }
    }
    const silent = asked.filter((a) => !heard.includes(a))
    if (silent.length === 0) {
      const line = since < this.waits.sayAfterMs ? asking : `${s(heard.length)} answered; none has ${this.id.slice(0, 12)}…`
      return { line, giveUp: since >= this.waits.lackMs ? new GetGaveUp('ERR_NOT_FOUND', `${s(heard.length)} answered but none has ${this.id}`) : null }
    }
    const line = since < this.waits.sayAfterMs ? asking : `${heard.length} of ${s(asked.length)} answered, none has it; no answer yet from ${silent.join(', ')}`
    return { line, giveUp: since >= this.waits.silentMs ? new GetGaveUp('ERR_NOT_FOUND', `${heard.length} of ${s(asked.length)} answered but none has ${this.id}; no answer from ${silent.join(', ')}`) : null }
  }
}
