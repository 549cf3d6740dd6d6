// Chunk delays counted by epoch (EPOCH_MS of the source's clock, by the chunk's publish time): what
// a node and its subtree verified, or what it has yet to send up. Epochs too old to matter are
// dropped, so the table stays bounded whatever its children send.
import { DELAY_BUCKETS_MS, toRun, type EpochDelays } from './audience-summary.ts'

export class DelayEpochs {
  private readonly by = new Map<number, number[]>()

  add(epoch: number, bucket: number, n: number): void {
    let h = this.by.get(epoch)
    if (!h) { h = new Array<number>(DELAY_BUCKETS_MS.length).fill(0); this.by.set(epoch, h) }
    h[bucket] += n
  }

  /** Chunks counted in `epoch`. */
  total(epoch: number): number {
    return this.by.get(epoch)?.reduce((t, n) => t + n, 0) ?? 0
  }

  /** The sparse histogram of epochs from..to (inclusive), merged. */
  histogram(from: number, to: number): Array<[number, number]> {
    const sum = new Array<number>(DELAY_BUCKETS_MS.length).fill(0)
    for (const [e, h] of this.by) if (e >= from && e <= to) for (let i = 0; i < h.length; i++) sum[i] += h[i]
    return sparse(sum)
  }

  /** The oldest `max` epochs, as sent on the wire, taken out (the rest wait for the next summary). */
  take(max: number): EpochDelays {
    const out: EpochDelays = []
    for (const e of [...this.by.keys()].sort((x, y) => x - y).slice(0, max)) {
      out.push([e, ...toRun(sparse(this.by.get(e) ?? []))])
      this.by.delete(e)
    }
    return out
  }

  /** Drops epochs before `min`. */
  prune(min: number): void {
    for (const e of this.by.keys()) if (e < min) this.by.delete(e)
  }
}

function sparse(h: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i < h.length; i++) if (h[i] > 0) out.push([i, h[i]])
  return out
}
