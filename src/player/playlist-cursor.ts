// Per stream log, where the playlist answered last started: MEDIA-SEQUENCE (the first segment
// listed) and DISCONTINUITY-SEQUENCE (discontinuities before it). Both only move forward: the next
// answer never starts below the last one (a hole that fills in later must not pull the window
// back), and discontinuities are counted as segments leave the window, so records that retention
// or the record window deleted later do not make the count drop.
import type { StreamLogReader } from '../store/stream-types.ts'

interface Mark { seq: number; disc: number }

export class PlaylistCursors {
  private readonly marks = new WeakMap<StreamLogReader, Mark>()

  /** Lowest segment the next playlist of `log` may start at. */
  floor(log: StreamLogReader): number {
    return this.marks.get(log)?.seq ?? 0
  }

  /** Records an answer starting at segment `first` and returns its DISCONTINUITY-SEQUENCE. */
  advance(log: StreamLogReader, first: number): number {
    const prev = this.marks.get(log)
    if (prev && first <= prev.seq) return prev.disc
    let disc = prev?.disc ?? 0
    for (let k = prev?.seq ?? 0; k < first; k++) if (log.segment(k)?.discontinuity) disc++
    this.marks.set(log, { seq: first, disc })
    return disc
  }
}
