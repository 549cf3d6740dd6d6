// A relay's transport that keeps a stripe's chunks from one peer (catch-up hand-over tests): the
// child pushed down that does not give its successor the catch-up its parent handed over.
import { decodeDatagram, encodeDatagram, STRIPES } from '../../src/mesh/messages.ts'
import type { Transport } from '../../src/mesh/transport.ts'
import { CHUNK_SIZE } from '../../src/store/stream-types.ts'

/** Sends `to` no chunk of `stripe` (once both are set): a child that keeps the catch-up to itself
 * (and feeds the newcomer the other stripes, where it is the newcomer's parent). */
export class Withholding implements Transport {
  to: string | undefined
  stripe = -1
  /** Sends the first block of each chunk (a block, no chunk), not nothing. */
  firstBlocks = false
  /** The stripes in which our parent, pushing us down, asked us to hand our successor its catch-up. */
  readonly askedToHandOver: number[] = []
  constructor(private inner: Transport) {}
  get address(): string { return this.inner.address }
  close(): Promise<void> { return this.inner.close() }
  onDatagram(fn: (buf: Buffer, from: string) => void): void {
    this.inner.onDatagram((buf, from) => {
      const d = decodeDatagram(buf)
      if (d.ok) for (const m of d.messages) if (m.type === 'AskThemInstead' && m.handOver !== undefined) this.askedToHandOver.push(m.stripe)
      fn(buf, from)
    })
  }
  send(buf: Buffer, to: string): void {
    const d = decodeDatagram(buf)
    if (to !== this.to || !d.ok) return this.inner.send(buf, to)
    const kept = d.messages.filter((m) => m.type !== 'Content' || Math.floor(m.offset / CHUNK_SIZE) % STRIPES !== this.stripe || (this.firstBlocks && m.offset % CHUNK_SIZE === 0))
    if (kept.length) this.inner.send(encodeDatagram(kept), to)
  }
}
