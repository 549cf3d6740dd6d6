// The relay graph of one stream from the statuses of the nodes we could read: who feeds whom per
// stripe (each child's parents, each parent's children) and how many recent chunks each link
// carried (fedBy). Nodes that are only named by others still appear, with the role their links
// give them, so a viewer that reads only its own status still draws its parents and children.
// Positions come from GraphLayout: a tree by depth, the source on top.
import { GraphLayout, type Place } from './dashboard-layout.ts'
import type { DashboardNodeStatus, DashboardStream } from './dashboard-status.ts'

/** Nodes drawn: beyond this a graph is unreadable at dashboard size, and peers control the count. */
export const MAX_GRAPH_NODES = 64
/** Edges kept: a node has a few parents per stripe, so this is generous for MAX_GRAPH_NODES. */
export const MAX_GRAPH_EDGES = 512

export type GraphRole = 'source' | 'relay' | 'viewer'

export interface GraphNode {
  /** The node's address as this machine reaches it (a wildcard bind shows as loopback). */
  id: string
  role: GraphRole
  /** The node whose dashboard this is. */
  self: boolean
  /** We read this node's status (false: only named by the nodes we read). */
  reporting: boolean
  http: string | null
  uploadedBytes: number
  receivedBytes: number
  /** Hops from the source (the source is 0). */
  depth: number
  /** Layout position in 0..1: x within the depth's row, y by row from the top. */
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

/** What the dashboard can and cannot see, in words for the page. */
export interface GraphScope {
  reporting: number
  named: number
  note: string
}

/** One stripe's push tree: the nodes in it and where they sit (depth = hops in this stripe). */
export interface StripeView {
  stripe: number
  rows: number[]
  at: Record<string, Place>
}

export interface RelayGraph {
  stream: string
  stripes: number
  nodes: GraphNode[]
  edges: GraphEdge[]
  /** The depths that have nodes, top to bottom (one row each). */
  rows: number[]
  /** The same graph one stripe at a time: each is a true tree (one parent per node). */
  stripeViews: StripeView[]
  scope: GraphScope
}

export function buildGraph(statuses: readonly DashboardNodeStatus[], stream: string, selfUdp: string | null, layout = new GraphLayout()): RelayGraph {
  const nodes = new Map<string, GraphNode>()
  const edges = new Map<string, GraphEdge>()
  const sources = new Set<string>()
  const hopsOf = new Map<string, Record<string, number>>()
  let stripes = 0
  const addNode = (id: string, status?: DashboardNodeStatus, s?: DashboardStream): GraphNode | null => {
    let n = nodes.get(id)
    if (!n) {
      if (nodes.size >= MAX_GRAPH_NODES) return null
      n = { id, role: 'viewer', self: id === selfUdp, reporting: false, http: null, uploadedBytes: 0, receivedBytes: 0, depth: 0, x: 0, y: 0 }
      nodes.set(id, n)
    }
    if (status && s) {
      n.reporting = true
      n.http = status.http
      n.uploadedBytes = s.uploadedBytes
      n.receivedBytes = s.receivedBytes
      if (s.role === 'source') sources.add(id)
      else hopsOf.set(id, s.hops)
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
  // Reporting nodes first so the cap never drops a node we actually read; then the sources the
  // viewers name, so the root of the tree is drawn even when no link to it is visible.
  for (const { st, s } of carrying) addNode(st.udp, st, s)
  for (const { s } of carrying) for (const a of s!.sources) if (addNode(a)) sources.add(a)
  for (const { st, s } of carrying) {
    const str = s as DashboardStream
    stripes = Math.max(stripes, str.parents.length, str.children.length)
    str.parents.forEach((p, stripe) => { if (p) addEdge(p, st.udp, stripe, 0) })
    str.children.forEach((list, stripe) => { for (const c of list) addEdge(st.udp, c, stripe, 0) })
    for (const [from, n] of Object.entries(str.fedBy)) addEdge(from, st.udp, null, n)
  }
  const edgeList = [...edges.values()]
  for (const e of edgeList) e.stripes.sort((a, b) => a - b)
  const list = [...nodes.values()]
  // A node we did not read is a source if a viewer got chunks from it as the source, a relay if it
  // feeds someone, else a viewer (it is only named as a child). A node we read is a relay when it
  // uploaded or has children of its own.
  const feeds = new Set(edgeList.filter((e) => !nodes.get(e.from)!.reporting || e.stripes.length > 0).map((e) => e.from))
  for (const n of list) {
    n.role = sources.has(n.id) ? 'source' : feeds.has(n.id) || n.uploadedBytes > 0 ? 'relay' : 'viewer'
  }
  const laid = list.map((n) => ({ id: n.id, source: n.role === 'source' }))
  const all = layout.place('all', laid, edgeList, (id) => hopDepth(hopsOf.get(id)))
  for (const n of list) Object.assign(n, all.at.get(n.id))
  // Each stripe's push tree on its own: only its links, depth = hops in that stripe. Hop counts
  // are not kept per stripe, so they do not place anything here.
  const stripeViews: StripeView[] = []
  for (let s = 0; s < stripes; s++) {
    const links = edgeList.filter((e) => e.stripes.includes(s))
    const inTree = new Set(links.flatMap((e) => [e.from, e.to]))
    const v = layout.place(`stripe ${s}`, laid.filter((n) => n.source || inTree.has(n.id)), links, () => null)
    stripeViews.push({ stripe: s, rows: v.rows, at: Object.fromEntries(v.at) })
  }
  return { stream, stripes, nodes: list, edges: edgeList, rows: all.rows, stripeViews, scope: scopeOf(list, selfUdp) }
}

/** Share of a node's chunks that must have come over a path for its length to count as the node's depth. */
const HOP_SHARE = 0.1

/** The shortest and longest paths (hops) a real share of a viewer's chunks took: its depth in the
 * tree is the shortest; its parent in the stripe of the longest is one hop above that. */
export function hopDepth(hops: Record<string, number> | undefined): { min: number; max: number } | null {
  if (!hops) return null
  const entries = Object.entries(hops).map(([k, v]) => [Number(k), v] as const).filter(([h, v]) => h >= 1 && v > 0)
  const total = entries.reduce((a, [, v]) => a + v, 0)
  const real = entries.filter(([, v]) => v >= total * HOP_SHARE).map(([h]) => h)
  return real.length ? { min: Math.min(...real), max: Math.max(...real) } : null
}

function scopeOf(nodes: readonly GraphNode[], selfUdp: string | null): GraphScope {
  const reporting = nodes.filter((n) => n.reporting).length
  const named = nodes.length - reporting
  const others = nodes.filter((n) => n.reporting && n.id !== selfUdp).length
  const self = nodes.find((n) => n.id === selfUdp)
  let note: string
  if (named === 0) note = 'Every node drawn reported its own status.'
  else if (others === 0) {
    note = (self?.role === 'source' ? 'The source sees its own children' : 'This node sees its own parents and children') +
      '; peers\' status is not readable from here (their HTTP endpoints are local to them), so outlined nodes are known by ' +
      'address only and nodes further down the tree are not drawn.'
  } else {
    note = `This node reads the status of ${others} peer${others === 1 ? '' : 's'}; the ${named} outlined node${named === 1 ? ' is' : 's are'} ` +
      'known only by address from the others\' parent and child lists.'
  }
  return { reporting, named, note }
}

/** The streams the statuses mention, the most widely carried first (the default to draw). */
export function streamsIn(statuses: readonly DashboardNodeStatus[]): string[] {
  const counts = new Map<string, number>()
  for (const st of statuses) for (const s of st.streams) counts.set(s.id, (counts.get(s.id) ?? 0) + 1)
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([id]) => id)
}
