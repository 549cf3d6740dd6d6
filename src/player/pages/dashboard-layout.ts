// Where the relay graph's nodes sit: a tree by depth, the source on the top row, each further hop
// one row down, nodes of the same depth side by side. One GraphLayout lives as long as the
// dashboard and remembers each row's order, so a node keeps its place from one refresh to the
// next and a newcomer is slotted in under its parents instead of reshuffling the row.
import type { GraphEdge, GraphNode } from './dashboard-graph.ts'

/** The hop counts a real share of a node's chunks took (shortest and longest), when we read it. */
export type HopDepth = (id: string) => { min: number; max: number } | null

export class GraphLayout {
  /** Per depth, the row's order at the last placement. Only rows drawn then are kept. */
  private order = new Map<number, string[]>()

  /** Sets depth, x and y of every node; returns the depths that have nodes, top to bottom. */
  place(nodes: readonly GraphNode[], edges: readonly GraphEdge[], hopDepth: HopDepth): number[] {
    assignDepths(nodes, edges, hopDepth)
    const rows = [...new Set(nodes.map((n) => n.depth))].sort((a, b) => a - b)
    const parents = new Map<string, string[]>()
    // Push-tree links place a node under its parents; repair links only when it has no parent.
    for (const tree of [true, false]) {
      for (const e of edges) {
        if ((e.stripes.length > 0) !== tree || (!tree && parents.has(e.to))) continue
        ;(parents.get(e.to) ?? parents.set(e.to, []).get(e.to)!).push(e.from)
      }
    }
    const x = new Map<string, number>()
    const next = new Map<number, string[]>()
    rows.forEach((depth, r) => {
      const members = nodes.filter((n) => n.depth === depth)
      const ids = new Set(members.map((n) => n.id))
      const row = (this.order.get(depth) ?? []).filter((id) => ids.has(id))
      const under = (id: string): number => {
        const xs = (parents.get(id) ?? []).map((p) => x.get(p)).filter((v) => v !== undefined)
        return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0.5
      }
      const fresh = members.filter((n) => !row.includes(n.id)).map((n) => ({ id: n.id, at: under(n.id) }))
        .sort((a, b) => a.at - b.at || a.id.localeCompare(b.id))
      for (const f of fresh) {
        const len = row.length + 1
        const i = row.findIndex((_, j) => (j + 0.5) / len > f.at)
        row.splice(i < 0 ? row.length : i, 0, f.id)
      }
      row.forEach((id, i) => x.set(id, (i + 0.5) / row.length))
      next.set(depth, row)
      for (const n of members) {
        n.x = x.get(n.id)!
        n.y = (r + 0.5) / rows.length
      }
    })
    this.order = next
    return rows
  }
}

/**
 * Depth = hops from the source, the shortest path a node's chunks take over any stripe. Known
 * bounds first: the sources are 0; a child is at most one below its parent in the push tree; a
 * node we read is no deeper than the hop count a real share of its chunks took, and each of its
 * parents is above the deepest such hop count (the parent is one hop nearer in that stripe). What
 * no bound reaches is placed next to a neighbour (a parent one row up, a child one row down), and a
 * part with no clue at all starts on the first row below the source.
 */
function assignDepths(nodes: readonly GraphNode[], edges: readonly GraphEdge[], hopDepth: HopDepth): void {
  const depth = new Map<string, number>()
  const bound = (id: string, d: number): boolean => {
    const cur = depth.get(id)
    if (cur !== undefined && cur <= d) return false
    depth.set(id, d)
    return true
  }
  const sources = new Set(nodes.filter((n) => n.role === 'source').map((n) => n.id))
  for (const id of sources) bound(id, 0)
  const tree = edges.filter((e) => e.stripes.length > 0 && !sources.has(e.to))
  for (const n of nodes) {
    const h = sources.has(n.id) ? null : hopDepth(n.id)
    if (!h) continue
    bound(n.id, Math.max(1, h.min))
    for (const e of tree) if (e.to === n.id && !sources.has(e.from)) bound(e.from, Math.max(1, h.max - 1))
  }
  // Shortest paths down the tree; the graph is capped at MAX_GRAPH_NODES, so at most that many rounds.
  for (let round = 0, changed = true; changed && round <= nodes.length; round++) {
    changed = false
    for (const e of tree) {
      const a = depth.get(e.from)
      if (a !== undefined && bound(e.to, a + 1)) changed = true
    }
  }
  const treeFirst = [...edges].sort((a, b) => Number(b.stripes.length > 0) - Number(a.stripes.length > 0))
  for (;;) {
    const left = nodes.filter((n) => !depth.has(n.id))
    if (left.length === 0) break
    let best: { id: string; d: number } | null = null
    const offer = (id: string, d: number): void => { if (!best || d < best.d) best = { id, d } }
    for (const e of treeFirst) {
      const a = depth.get(e.from), b = depth.get(e.to)
      if (a !== undefined && b === undefined) offer(e.to, a + 1)
      else if (b !== undefined && a === undefined) offer(e.from, Math.max(1, b - 1))
    }
    if (!best) {
      const fed = new Set(edges.filter((e) => !depth.has(e.from)).map((e) => e.to))
      offer((left.find((n) => !fed.has(n.id)) ?? left[0]).id, 1)
    }
    const chosen = best as { id: string; d: number } | null
    depth.set(chosen!.id, chosen!.d)
  }
  for (const n of nodes) n.depth = depth.get(n.id)!
}
