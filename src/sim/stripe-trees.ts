// Reading a simulated swarm's stripe trees from the outside, as the simulator knows them: which
// present viewers' chains of parents in a stripe reach the source. A viewer whose chain ends
// without a parent, or loops back on itself (a cycle cut off from the source), is not attached:
// it gets that stripe by pulls only. The tests of re-forming trees and the audience run read it.
import type { VirtualSwarm, SwarmMember } from './virtual-swarm.ts'

/** Present viewers whose chain of parents in stripe `s` reaches the source. */
export function attachedCount(sim: VirtualSwarm, members: SwarmMember[], s: number): number {
  return reachingSource(sim, members, (m) => sim.swarm(m).status().parents[s])
}

/** Viewers whose audience telemetry reaches the source: a chain of report parents
 * (StripeParents.reportParent) ends there. */
export function reportingCount(sim: VirtualSwarm, members: SwarmMember[]): number {
  return reachingSource(sim, members, (m) => sim.swarm(m).status().pathToSource[0])
}

function reachingSource(sim: VirtualSwarm, members: SwarmMember[], parent: (m: SwarmMember) => string | null | undefined): number {
  const parentOf = new Map(members.map((m) => [m.node.address, parent(m)]))
  const source = sim.source.node.address
  return members.filter((m) => {
    let at: string | null | undefined = m.node.address
    // A chain longer than the audience has looped.
    for (let hops = 0; hops <= members.length && at; hops++) {
      at = parentOf.get(at)
      if (at === source) return true
    }
    return false
  }).length
}
