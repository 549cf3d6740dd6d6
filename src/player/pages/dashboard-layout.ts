// Where the relay graph's nodes sit: a tree by depth, the source on the top row, each further hop
// one row down, nodes of the same depth side by side. A graph is drawn in several views (all
// stripes together, or one stripe's push tree). One GraphLayout lives as long as the dashboard and
// remembers each view's row order, so a node keeps its place from one refresh to the next and a
// newcomer is slotted in under its parents instead of reshuffling the row.
import type { GraphEdge } from './dashboard-graph.ts'

/** The hop counts a real share of a node's chunks took (shortest and longest), when we read it. */
export type HopDepth = (id: string) => { min: number; max: number } | null

export interface LayoutNode { id: string; source: boolean }

/** A node's place: depth (hops from the source), x within its row and y by row, both in 0..1. */
export interface Place { depth: number; x: number; y: number }

export interface Placement {
  /** The depths that have nodes, top to bottom (one row each). */
  rows: number[]
  at: Map<string, Place>
}

/** Views remembered: "all" and one per stripe (MAX_STRIPES in the status parser is 16). */
const MAX_VIEWS = 17

export class GraphLayout {
  /** Per view, per depth, the row's order at the last placement. Only rows drawn then are kept. */
  private orders = new Map<string, Map<number, string[]>>()

  place(view: string, nodes: readonly LayoutNode[], edges: readonly GraphEdge[], hopDepth: HopDepth): Placement {
    const depth = assignDepths(nodes, edges, hopDepth)
    const rows = [...new Set(depth.values())].sort((a, b) => a - b)
    const parents = new Map<string, string[]>()
    // Push-tree links place a node under its parents; repair links only when it has no parent.
    for (const tree of [true, false]) {
      for (const e of edges) {
        if ((e.stripes.length > 0) !== tree || (!tree && parents.has(e.to))) continue
        ;(parents.get(e.to) ?? parents.set(e.to, []).get(e.to)!).push(e.from)
      }
    }
    const old = this.orders.get(view) ?? new Map<number, string[]>()
    const next = new Map<number, string[]>()
    const at = new Map<string, Place>()
    rows.forEach((d, r) => {
      const members = nodes.filter((n) => depth.get(n.id) === d).map((n) => n.id)
      const row = (old.get(d) ?? []).filter((id) => members.includes(id))
      const under = (id: string): number => {
        const xs = (parents.get(id) ?? []).map((p) => at.get(p)?.x).filter((v) => v !== undefined)
        return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0.5
      }
      const fresh = members.filter((id) => !row.includes(id)).map((id) => ({ id, at: under(id) }))
        .sort((a, b) => a.at - b.at || a.id.localeCompare(b.id))
      for (const f of fresh) {
        const len = row.length + 1
        const i = row.findIndex((_, j) => (j + 0.5) / len > f.at)
        row.splice(i < 0 ? row.length : i, 0, f.id)
      }
      row.forEach((id, i) => at.set(id, { depth: d, x: (i + 0.5) / row.length, y: (r + 0.5) / rows.length }))
      next.set(d, row)
    })
    this.orders.set(view, next)
    if (this.orders.size > MAX_VIEWS) this.orders.delete(this.orders.keys().next().value as string)
    return { rows, at }
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
function assignDepths(nodes: readonly LayoutNode[], edges: readonly GraphEdge[], hopDepth: HopDepth): Map<string, number> {
  const depth = new Map<string, number>()
  const bound = (id: string, d: number): boolean => {
    const cur = depth.get(id)
    if (cur !== undefined && cur <= d) return false
    depth.set(id, d)
    return true
  }
  const sources = new Set(nodes.filter((n) => n.source).map((n) => n.id))
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
  return depth
}
