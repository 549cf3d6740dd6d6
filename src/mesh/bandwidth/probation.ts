// Probation for an uplink nobody has vouched for (issue 12, measured capacity). A viewer started
// without --max-upload learns its link only once the link backs up (uplink-estimate.ts), and it
// backs up only under children's pushes: until then the viewer took a full interior node's places
// (up to eight children), and a weak link starved all of them for the second or more it took to
// measure, after which they were sent on and pulled what they had missed, much of it from the
// source (uneven-measured, seed 1: 0.43 copies of the source's "asked five times" pulls, 0.23 in
// the declared row). So such a viewer earns its places as TCP's slow start earns its window: one
// child to begin with, then twice the stripes its link has carried without backing up, until that
// is a full node's places and the probation ends. A weak link backs up under its first child or
// two and is measured (a cap from then on); a strong one doubles every few tenths of a second.
import { FANOUT, SPARE_SLOTS } from '../stream-policy.ts'

/** Children a viewer on probation may hold, given the chunk bytes a second its uplink has been
 * seen to carry without backing up and a stripe's chunk bytes a second; undefined: probation is
 * over (the link carried as much as a full node's places ask). */
export function probationChildren(provenChunkBps: number, stripeBps: number): number | undefined {
  const most = Math.max(1, Math.floor((2 * provenChunkBps) / stripeBps))
  return most >= FANOUT + SPARE_SLOTS ? undefined : most
}
