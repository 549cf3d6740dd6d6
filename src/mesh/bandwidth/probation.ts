// Probation for an uplink that has backed up but is not measured yet (issue 12, measured capacity).
// A viewer started without --max-upload learns its link once the link has been seen busy for a
// second (uplink-estimate.ts); until then it took a full interior node's places (up to eight
// children), and a weak link starved all of them for the second or more it took to measure, after
// which they were sent on and pulled what they had missed, much of it from the source
// (uneven-measured, seed 1: 0.31 copies of the source's "asked five times" pulls, 0.10 in the
// declared row; a half-copy viewer held 8 children before it knew its link). A link whose queue
// was once seen backed up may be weak: from then until it is measured, the viewer earns its places
// as TCP's slow start earns its window: one child, then twice the stripes its link has carried
// without backing up, until that is a full node's places and the probation ends. A link never seen
// backed up is as good as the viewer needs (no probation: the simulator's unlimited links and a
// real host's socket, whose own queue rarely fills, are as before).
import { FANOUT, SPARE_SLOTS } from '../stream-policy.ts'

/** Children a viewer on probation may hold, given the chunk bytes a second its uplink has been
 * seen to carry without backing up and a stripe's chunk bytes a second; undefined: probation is
 * over (the link carried as much as a full node's places ask). */
export function probationChildren(provenChunkBps: number, stripeBps: number): number | undefined {
  const most = Math.max(1, Math.floor((2 * provenChunkBps) / stripeBps))
  return most >= FANOUT + SPARE_SLOTS ? undefined : most
}
