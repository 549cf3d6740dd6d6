// The relay graph of one stream from the statuses of the nodes we could read: who feeds whom per
// stripe (each child's parents, each parent's children) and how many recent chunks each link
// carried (fedBy). Nodes that are only named by others still appear, so a viewer whose status we
// cannot read is drawn too. The layout is layered by hops from the source, left to right.
import type { DashboardNodeStatus, DashboardStream } from './dashboard-status.ts'

/** Nodes drawn: beyond this a graph is unreadable at dashboard size, and peers control the count. */
export const MAX_GRAPH_NODES = 64
/** Edges kept: a node has a few parents per stripe, so this is generous for MAX_GRAPH_NODES. */
export const MAX_GRAPH_EDGES = 512

export type GraphRole = 'source' | 'relay' | 'viewer' | 'peer'

export interface GraphNode {
  id: string
  role: GraphRole
  /** The node whose dashboard this is. */
  self: boolean
  /** We read this node's status (false: only named by others). */
  reporting: boolean
  http: string | null
  uploadedBytes: number
  receivedBytes: number
  /** Hops from the source in the drawn tree (the source is 0); unreached nodes go after the deepest. */
  depth: number
  /** Layout position in 0..1, left to right by depth. */
  x: number
  y: number
}

export interface GraphEdge {
  from: string
  to: string
  /** Stripes this link carries in the push tree; empty for a link seen only in fedBy (repair). */
  stripes: number[]
  /** Recent chunks the child says it got over this link. */
  chunks: number
}

export interface RelayGraph {
  stream: string
  stripes: number
  nodes: GraphNode[]
  edges: GraphEdge[]
}

export function buildGraph(statuses: readonly DashboardNodeStatus[], stream: string, selfUdp: string | null): RelayGraph {
  const nodes = new Map<string, GraphNode>()
  const edges = new Map<string, GraphEdge>()
  let stripes = 0
  const addNode = (id: string, status?: DashboardNodeStatus, s?: DashboardStream): GraphNode | null => {
    let n = nodes.get(id)
    if (!n) {
      if (nodes.size >= MAX_GRAPH_NODES) return null
      n = { id, role: 'peer', self: id === selfUdp, reporting: false, http: null, uploadedBytes: 0, receivedBytes: 0, depth: 0, x: 0, y: 0 }
      nodes.set(id, n)
    }
    if (status && s) {
      n.reporting = true
      n.http = status.http
      n.role = s.role === 'source' ? 'source' : s.uploadedBytes > 0 || s.children.some((c) => c.length > 0) ? 'relay' : 'viewer'
      n.uploadedBytes = s.uploadedBytes
      n.receivedBytes = s.receivedBytes
    }
    return n
  }
  const addEdge = (from: string, to: string, stripe: number | null, chunks: number): void => {
    if (from === to || !addNode(from) || !addNode(to)) return
    const key = `${from}>${to}`
    let e = edges.get(key)
    if (!e) {
      if (edges.size >= MAX_GRAPH_EDGES) return
      e = { from, to, stripes: [], chunks: 0 }
      edges.set(key, e)
    }
    if (stripe !== null && !e.stripes.includes(stripe)) e.stripes.push(stripe)
    e.chunks = Math.max(e.chunks, chunks)
  }

  const carrying = statuses.map((st) => ({ st, s: st.streams.find((x) => x.id === stream) })).filter((x) => x.s !== undefined)
  // Reporting nodes first so the cap never drops a node we actually read.
  for (const { st, s } of carrying) addNode(st.udp, st, s)
  for (const { st, s } of carrying) {
    const str = s as DashboardStream
    stripes = Math.max(stripes, str.parents.length, str.children.length)
    str.parents.forEach((p, stripe) => { if (p) addEdge(p, st.udp, stripe, 0) })
    str.children.forEach((list, stripe) => { for (const c of list) addEdge(st.udp, c, stripe, 0) })
    for (const [from, n] of Object.entries(str.fedBy)) addEdge(from, st.udp, null, n)
  }
  for (const e of edges.values()) e.stripes.sort((a, b) => a - b)
  const list = [...nodes.values()]
  layout(list, [...edges.values()])
  return { stream, stripes, nodes: list, edges: [...edges.values()] }
}

/** Layered layout: depth by breadth-first search from the source(s); within a column, nodes are
 * ordered by the mean position of their parents, which keeps most edges from crossing. */
function layout(nodes: GraphNode[], edges: GraphEdge[]): void {
  const out = new Map<string, string[]>()
  const into = new Map<string, string[]>()
  for (const e of edges) {
    ;(out.get(e.from) ?? out.set(e.from, []).get(e.from)!).push(e.to)
    ;(into.get(e.to) ?? into.set(e.to, []).get(e.to)!).push(e.from)
  }
  const depth = new Map<string, number>()
  const queue = nodes.filter((n) => n.role === 'source').map((n) => n.id)
  for (const id of queue) depth.set(id, 0)
  for (let i = 0; i < queue.length; i++) {
    for (const next of out.get(queue[i]) ?? []) {
      if (depth.has(next)) continue
      depth.set(next, depth.get(queue[i])! + 1)
      queue.push(next)
    }
  }
  const deepest = Math.max(-1, ...depth.values())
  for (const n of nodes) n.depth = depth.get(n.id) ?? deepest + 1
  const columns = Math.max(...nodes.map((n) => n.depth), 0) + 1
  const y = new Map<string, number>()
  for (let d = 0; d < columns; d++) {
    const col = nodes.filter((n) => n.depth === d)
    const key = (n: GraphNode): number => {
      const ys = (into.get(n.id) ?? []).map((p) => y.get(p)).filter((v) => v !== undefined)
      return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : 0.5
    }
    col.sort((a, b) => key(a) - key(b) || a.id.localeCompare(b.id))
    col.forEach((n, i) => {
      n.x = (d + 0.5) / columns
      n.y = (i + 0.5) / col.length
      y.set(n.id, n.y)
    })
  }
}

/** The streams the statuses mention, the most widely carried first (the default to draw). */
export function streamsIn(statuses: readonly DashboardNodeStatus[]): string[] {
  const counts = new Map<string, number>()
  for (const st of statuses) for (const s of st.streams) counts.set(s.id, (counts.get(s.id) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([id]) => id)
}
