// An in-memory IngestSink for tests that checks the sink contract on every call: setInfo first
// and once, one call at a time, segments only over bytes already appended, nothing after end().

import type { IngestInfo, IngestSegment, IngestSink } from '../../src/ingest/ingest-sink.ts'

export class MemorySink implements IngestSink {
  info: IngestInfo | null = null
  chunks: Buffer[] = []
  length = 0
  segments: IngestSegment[] = []
  ended = false
  violations: string[] = []
  private inFlight = 0

  constructor (private readonly delayMs = 0) {}

  bytes (): Buffer {
    return Buffer.concat(this.chunks)
  }

  async setInfo (info: IngestInfo): Promise<void> {
    await this.enter('setInfo', async () => {
      if (this.info) this.violations.push('setInfo called twice')
      if (this.length > 0) this.violations.push('setInfo after append')
      this.info = info
    })
  }

  async append (bytes: Buffer): Promise<void> {
    await this.enter('append', async () => {
      if (!this.info) this.violations.push('append before setInfo')
      this.chunks.push(bytes)
      this.length += bytes.length
    })
  }

  async addSegment (seg: IngestSegment): Promise<void> {
    await this.enter('addSegment', async () => {
      if (seg.offset + seg.length > this.length) this.violations.push(`segment [${seg.offset}, ${seg.offset + seg.length}) beyond appended ${this.length}`)
      const prev = this.segments.at(-1)
      if (prev && seg.offset < prev.offset + prev.length) this.violations.push(`segment at ${seg.offset} overlaps previous`)
      this.segments.push(seg)
    })
  }

  async end (): Promise<void> {
    await this.enter('end', async () => { this.ended = true })
  }

  private async enter (name: string, fn: () => Promise<void>): Promise<void> {
    if (this.ended) this.violations.push(`${name} after end`)
    if (this.inFlight > 0) this.violations.push(`${name} while another call is in flight`)
    this.inFlight++
    try {
      if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs))
      await fn()
    } finally {
      this.inFlight--
    }
  }
}

/** Polls cond every 50 ms until true or the deadline; never a fixed sleep. */
export async function waitFor (cond: () => boolean, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export const quietLogger = { debug () {}, info () {}, warn () {}, error () {} }
