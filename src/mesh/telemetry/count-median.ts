// The source's audience count, read as the median of its last few seconds of counts.
//
// Why a median: viewers keep moving between stripe-0 parents (the tree is re-balanced all the
// time: some 3 moves a second at 100 viewers). A move takes a subtree out of one branch and adds
// it to another, and the two changes climb to the source over different paths, each a few hops
// of COUNTS_GAP_MS, so the merged count is briefly short or over by that subtree. Each such error
// lasts about the difference of the two climbs (well under a second), while a real change (a
// join wave, viewers leaving) persists: the median over SMOOTH_MS drops the first and follows the
// second within half of SMOOTH_MS. The whole sample is kept, so the depths still add up to the
// count shown.

/** The counts the median is taken over: long against a move's error, short against a change. */
export const SMOOTH_MS = 3000

export interface CountSample { at: number; viewers: number; byDepth: number[]; suspect: number }

export class CountMedian {
  private samples: CountSample[] = []

  add(s: CountSample): void {
    this.samples.push(s)
    while (this.samples.length > 0 && s.at - this.samples[0].at > SMOOTH_MS) this.samples.shift()
  }

  /** The sample with the median count (the later one of two in the middle), or none yet. */
  median(): CountSample | undefined {
    if (this.samples.length === 0) return undefined
    const sorted = [...this.samples].sort((x, y) => x.viewers - y.viewers || x.at - y.at)
    return sorted[sorted.length >> 1]
  }
}
