// Figures of a NAT-lab run, from what the nodes said about themselves (/status.json just before
// they were stopped) and what their stores hold afterwards (which segments each viewer verified),
// and the table `npm run bench:nat` prints. Nothing is estimated from outside.
import { cpus } from 'node:os'
import { join } from 'node:path'
import { StreamLog } from '../src/store/stream-log.ts'
import { CHUNK_SIZE, type StreamId } from '../src/store/stream-types.ts'
import type { NatLab } from './nat-lab.ts'
import type { NodeStatus, StreamStatus } from './nat-swarm.ts'
import { DEADLINE_MS } from './bench-run.ts'

export interface ViewerFigures {
  host: string
  /** What stands between the node and the public segment. */
  nat: 'public' | 'cone' | 'symmetric'
  /** The router it sits behind (null on the public segment). */
  router: string | null
  /** It held a port mapping at its router at the end (--port-mapping against a lab gateway). */
  mapped: boolean
  /** Segments published while it watched whose deadline fell before the end, and of those, the ones it verified. */
  due: number
  played: number
  /** Numbers of the due segments it does not hold. */
  missing: number[]
  fromSourceBytes: number
  fromPeersBytes: number
  relayedBytes: number
  /** Distinct addresses it sent stream chunks to, and the routers (or public hosts) behind them. */
  fedPeers: number
  fedWhere: string[]
  /** Birthday punches it took part in that met, and that it started (src/mesh/nat/birthday-punch.ts). */
  punched: number
  punches: number
  /** False when its status could not be read (the process died or hung). */
  reported: boolean
  /** The public peer that carries a source behind a NAT (not one of the audience). */
  entry: boolean
}

export interface NatFigures {
  scenario: string
  seconds: number
  bitrate: string
  /** Stream bytes published from the earliest start point of any receiver on. */
  streamBytes: number
  sourceUploadedBytes: number
  sourceCopies: number
  viewers: ViewerFigures[]
  /** CPU the audience's node processes used, as a share of one core each, and the machine's 1-minute load at the end. */
  cpuShareOfCorePerViewer: number
  /** The kernel's part of it (system time; in the lab it carries every datagram sent through the
   * veths and NATs), when measured. */
  cpuKernelShareOfCorePerViewer?: number
  /** The machine's 1-minute load when the scenario began (the lab's own load builds up during it). */
  loadAtStart?: number
  /** The median over viewers of each one's median chunk delay (publish to verified), and the bytes
   * of chunks viewers received more than once. */
  medianChunkDelayMs: number
  duplicateBytes: number
  /** The same duplicates by how they came, and stream bytes uploaded (source and viewers) by why
   * they went out, summed over nodes (src/mesh/stream/swarm-stats.ts). */
  duplicateBy: Record<string, number>
  uploadedBy: Record<string, number>
  /** The source's own stream uploads by why they went out (where its copies beyond the first go). */
  sourceUploadedBy: Record<string, number>
  /** The source's node process alone (its ffmpeg not included), when measured. */
  cpuShareOfCoreSource?: number
  loadAverage: number
  /** Every node's wire drops by reason and encrypted-session counters, summed (when the run read them). */
  dropped: Record<string, number>
  secure: Record<string, number> | null
  /** The kernel's UDP error counters summed over the nodes' hosts (RcvbufErrors: datagrams lost
   * to a full socket receive buffer before the node read them). */
  udpErrors?: Record<string, number>
  /** Nodes that did not exit cleanly on the stop's SIGTERM (killed 8 s later, or died of it): the
   * verified marks of their last durability batch may be lost, and their segments read as missing. */
  uncleanAtStop?: string[]
}

const natOf = (lab: NatLab, host: string): ViewerFigures['nat'] => lab.host(host).router?.nat ?? 'public'

/** Which router (or public host) an address belongs to, as seen from the public segment. */
function whereIs(lab: NatLab, addr: string): string {
  const ip = addr.slice(0, addr.lastIndexOf(':'))
  for (const [r, wan] of lab.routerIps) if (wan === ip) return r
  for (const h of lab.hosts.values()) if (!h.router && h.ip === ip) return h.name
  return ip
}

/** Segments of the source's log a viewer that started at `startChunk` had to hold by `stopAt`:
 * those wholly after its start point whose last chunk was published at least the playback
 * deadline before the end (the chunk records carry the source's signed publish time). */
function dueSegments(src: StreamLog, startChunk: number, stopAt: number): Array<{ n: number; offset: number; length: number }> {
  const out = []
  for (let n = 0; n < src.segmentCount(); n++) {
    const s = src.segment(n)
    if (!s || s.offset < startChunk * CHUNK_SIZE) continue
    const last = src.chunkRecord(Math.floor((s.offset + s.length - 1) / CHUNK_SIZE))
    if (!last || last.time + DEADLINE_MS > stopAt) continue
    out.push({ n, offset: s.offset, length: s.length })
  }
  return out
}

export async function natFigures(run: {
  scenario: string; seconds: number; bitrate: string; lab: NatLab; dir: string; id: string; sourceHost: string; entryHost: string | null
  stopAt: number; statuses: Map<string, StreamStatus | null>; cpuShareOfCorePerViewer: number; cpuKernelShareOfCorePerViewer?: number; cpuShareOfCoreSource?: number; loadAtStart?: number; loadAverage: number
  nodes?: Map<string, NodeStatus | null>
  udpErrors?: Record<string, number>
  uncleanAtStop?: string[]
}): Promise<NatFigures> {
  const { lab, dir, statuses } = run
  const id = run.id as StreamId
  const src = await StreamLog.openReplica(join(dir, run.sourceHost), id)
  try {
    const viewers: ViewerFigures[] = []
    const starts: number[] = []
    for (const [host, st] of statuses) {
      if (host === run.sourceHost) continue
      const startChunk = st?.startChunk ?? -1
      let due = 0
      let played = 0
      const missing: number[] = []
      if (startChunk >= 0) {
        starts.push(startChunk)
        const log = await StreamLog.openReplica(join(dir, host), id)
        try {
          for (const s of dueSegments(src, startChunk, run.stopAt)) {
            due++
            if (log.hasRange(s.offset, s.length)) played++
            else missing.push(s.n)
          }
        } finally { await log.close() }
      }
      const fed = Object.keys(st?.fedTo ?? {})
      viewers.push({
        host, nat: natOf(lab, host), router: lab.host(host).router?.name ?? null, mapped: run.nodes?.get(host)?.nat.portMapping?.state === 'mapped',
        punched: run.nodes?.get(host)?.nat.birthday?.punched ?? 0, punches: run.nodes?.get(host)?.nat.birthday?.started ?? 0, due, played, missing,
        fromSourceBytes: st?.bytesFromSource ?? 0, fromPeersBytes: st?.bytesFromPeers ?? 0, relayedBytes: st?.uploadedBytes ?? 0,
        fedPeers: fed.length, fedWhere: [...new Set(fed.map((a) => whereIs(lab, a)))].sort(), reported: st !== null, entry: host === run.entryHost,
      })
    }
    let streamBytes = 0
    const first = starts.length ? Math.min(...starts) : 0
    for (let n = first; n < (src.head()?.chunks ?? 0); n++) streamBytes += src.chunkRecord(n)?.length ?? 0
    const uploaded = statuses.get(run.sourceHost)?.uploadedBytes ?? 0
    const audience = [...statuses].filter(([h, st]) => h !== run.sourceHost && st).map(([, st]) => st!)
    const delays = audience.map((st) => st.delayMs.p50).sort((a, b) => a - b)
    return {
      scenario: run.scenario, seconds: run.seconds, bitrate: run.bitrate, streamBytes,
      sourceUploadedBytes: uploaded, sourceCopies: uploaded / Math.max(1, streamBytes), viewers,
      medianChunkDelayMs: delays[Math.floor(delays.length / 2)] ?? 0, duplicateBytes: sum(audience.map((st) => st.duplicateBytes)),
      duplicateBy: sumRecords(audience.map((st) => st.duplicateBy ?? {})),
      uploadedBy: sumRecords([...statuses.values()].map((st) => st?.uploadedBy ?? {})),
      sourceUploadedBy: { ...statuses.get(run.sourceHost)?.uploadedBy },
      cpuShareOfCorePerViewer: run.cpuShareOfCorePerViewer, cpuKernelShareOfCorePerViewer: run.cpuKernelShareOfCorePerViewer, loadAtStart: run.loadAtStart, cpuShareOfCoreSource: run.cpuShareOfCoreSource, loadAverage: run.loadAverage, udpErrors: run.udpErrors, uncleanAtStop: run.uncleanAtStop, ...nodeSums(run.nodes),
    }
  } finally { await src.close() }
}

/** Drops and session counters summed over the nodes whose status was read. */
function nodeSums(nodes: Map<string, NodeStatus | null> | undefined): Pick<NatFigures, 'dropped' | 'secure'> {
  const read = [...nodes?.values() ?? []]
  const sealing = read.filter((st) => st?.secure)
  return {
    dropped: sumRecords(read.map((st) => st?.counters.dropped ?? {})),
    secure: sealing.length ? sumRecords(sealing.map((st) => ({ ...st!.secure! }))) : null,
  }
}

function sumRecords(rs: Array<Partial<Record<string, number>>>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const r of rs) for (const [k, n] of Object.entries(r)) out[k] = (out[k] ?? 0) + (n ?? 0)
  return out
}

const mbOf = (r: Record<string, number>) => Object.entries(r).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${mb(n)}`).join(', ') || 'none'

const copiesOf = (r: Record<string, number>, stream: number) => Object.entries(r).filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${(n / Math.max(1, stream)).toFixed(2)}`).join(', ') || 'none'

const counts = (r: Record<string, number>) => Object.entries(r).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'

function sentSplit(f: NatFigures): string {
  const sent = f.sourceUploadedBytes + sum(f.viewers.map((v) => v.relayedBytes))
  const fresh = sum(f.viewers.map((v) => v.fromSourceBytes + v.fromPeersBytes))
  return `${mb(sent)} = ${mb(fresh)} + ${mb(f.duplicateBytes)} + ${mb(sent - fresh - f.duplicateBytes)} MB`
}

const mb = (b: number) => (b / 1e6).toFixed(2)
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0)
const pct = (x: number) => `${(x * 100).toFixed(1)} %`
const complete = (v: ViewerFigures) => (v.due > 0 ? v.played / v.due : 0)

/** Per-viewer table, then the issue's goals with this run's figures against them. */
export function natTable(f: NatFigures): string {
  const head = ['host', 'NAT', 'segments held / due', 'complete', 'from source MB', 'from peers MB', 'relayed MB', 'fed (peers: where)']
  const rows = f.viewers.map((v) => [
    v.host + (v.entry ? ' (entry)' : ''), v.nat + (v.mapped ? ', mapped' : ''), v.reported ? `${v.played} / ${v.due}${v.missing.length ? ` (missing ${v.missing.slice(0, 4).join(',')}${v.missing.length > 4 ? ',...' : ''})` : ''}` : 'no status', pct(complete(v)), mb(v.fromSourceBytes), mb(v.fromPeersBytes),
    mb(v.relayedBytes), v.fedPeers ? `${v.fedPeers}: ${v.fedWhere.slice(0, 6).join(' ')}${v.fedWhere.length > 6 ? ' ...' : ''}` : '-',
  ])
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(' | ')} |`
  const audience = f.viewers.filter((v) => !v.entry)
  const cones = audience.filter((v) => v.nat === 'cone')
  const syms = audience.filter((v) => v.nat === 'symmetric')
  const publics = audience.filter((v) => v.nat === 'public')
  const full = audience.filter((v) => v.due > 0 && v.played === v.due).length
  const worst = audience.length ? Math.min(...audience.map(complete)) : 0
  const coneFeeding = cones.filter((v) => v.fedPeers > 0).length
  const symFeeding = syms.filter((v) => v.fedPeers > 0).length
  const symRouters = new Set(syms.map((v) => v.router))
  const mapped = audience.filter((v) => v.mapped)
  const feedingSym = audience.filter((v) => v.nat !== 'symmetric' && v.fedWhere.some((w) => symRouters.has(w)))
  const copies = (vs: ViewerFigures[]) => (sum(vs.map((v) => v.fromSourceBytes)) / Math.max(1, f.streamBytes)).toFixed(2)
  const summary: Array<[string, string, string]> = [
    ['source copies uploaded', f.sourceCopies.toFixed(2), '<= 1.15'],
    ['viewers holding 100 % of what was due', `${full} / ${audience.length} (worst ${pct(worst)})`, 'all'],
    ...(cones.length ? [['cone viewers feeding another viewer', `${coneFeeding} / ${cones.length} (${pct(coneFeeding / cones.length)})`, '>= 90 %'] as [string, string, string]] : []),
    ...(syms.length ? [['symmetric viewers feeding another viewer', `${symFeeding} / ${syms.length}`, '0 (leaves)'] as [string, string, string]] : []),
    ...(syms.length ? [
      ['source copies received by cone / symmetric viewers', `${copies(cones)} / ${copies(syms)}`, ''],
      ['symmetric viewers: MB from the source / from peers', `${mb(sum(syms.map((v) => v.fromSourceBytes)))} / ${mb(sum(syms.map((v) => v.fromPeersBytes)))}`, ''],
      ['viewers outside the symmetric LANs that fed one of them (mapped of those)', `${feedingSym.length} (${feedingSym.filter((v) => v.mapped).length})`, ''],
      ['birthday punches of symmetric viewers: met / started', `${sum(syms.map((v) => v.punched))} / ${sum(syms.map((v) => v.punches))}`, ''],
    ] as Array<[string, string, string]> : []),
    ...(mapped.length ? [['viewers holding a port mapping', `${mapped.length} / ${audience.length}`, ''] as [string, string, string]] : []),
    ...(publics.length ? [['public viewers feeding another viewer', `${publics.filter((v) => v.fedPeers > 0).length} / ${publics.length}`, ''] as [string, string, string]] : []),
    // Sent is not delivered: a viewer may push chunks at a mapping its peer's NAT drops.
    ['viewers relayed (sent) / received from peers (arrived)', `${mb(sum(f.viewers.map((v) => v.relayedBytes)))} / ${mb(sum(f.viewers.map((v) => v.fromPeersBytes)))} MB`, ''],
    // Where stream bytes sent (by the source and every relay) went: chunks new to the receiver,
    // chunks it already held, and the rest (dropped by a NAT or the network, or still in flight).
    ['stream bytes sent = new to the receiver + duplicates + not arrived', sentSplit(f), ''],
    ['chunk delay, median of the viewers\' medians / duplicates received', `${f.medianChunkDelayMs} ms / ${mb(f.duplicateBytes)} MB`, ''],
    ['duplicates received by how they came, MB', mbOf(f.duplicateBy), ''],
    ['stream bytes uploaded (source and viewers) by why they went out, MB', mbOf(f.uploadedBy), ''],
    ['the source\'s uploads by why they went out, copies of the stream', copiesOf(f.sourceUploadedBy, f.streamBytes), ''],
    ['stream bytes since the first start point', `${mb(f.streamBytes)} MB`, ''],
    ['datagrams dropped by the nodes, by reason', counts(f.dropped), ''],
    ...(f.udpErrors ? [['datagrams the kernel dropped (UDP errors summed over the hosts)', counts(f.udpErrors), ''] as [string, string, string]] : []),
    ...(f.uncleanAtStop ? [['nodes that did not exit cleanly on SIGTERM (last verified marks may be lost)', f.uncleanAtStop.join(' ') || 'none', ''] as [string, string, string]] : []),
    ...(f.secure ? [['encrypted sessions, summed over nodes', counts(f.secure), ''] as [string, string, string]] : []),
    ['CPU per viewer process (share of a core) / machine load', `${pct(f.cpuShareOfCorePerViewer)} / ${f.loadAverage.toFixed(1)} on ${cpus().length} cores`, ''],
    ...(f.cpuKernelShareOfCorePerViewer !== undefined ? [['CPU seconds per viewer per minute of stream: all / the kernel\'s part', `${(f.cpuShareOfCorePerViewer * 60).toFixed(2)} / ${(f.cpuKernelShareOfCorePerViewer * 60).toFixed(2)} s`, ''] as [string, string, string]] : []),
    ...(f.loadAtStart !== undefined ? [['machine load at the start / at the report', `${f.loadAtStart.toFixed(1)} / ${f.loadAverage.toFixed(1)}`, ''] as [string, string, string]] : []),
    ...(f.cpuShareOfCoreSource !== undefined ? [['CPU of the source\'s node process (share of a core, ffmpeg apart)', pct(f.cpuShareOfCoreSource), ''] as [string, string, string]] : []),
  ]
  return [
    `### NAT lab: ${f.scenario} (${f.seconds} s, ${f.bitrate})`, '',
    line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line), '',
    '| figure | measured | goal (issue 13) |', '|---|---|---|',
    ...summary.map(([a, b, c]) => `| ${a} | ${b} | ${c} |`),
  ].join('\n')
}
