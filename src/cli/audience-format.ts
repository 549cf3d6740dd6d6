// `cjp2p-stream status --audience`: the audience telemetry of each stream as lines for a terminal
// (the same figures the source's dashboard and /metrics show).
import type { AudienceView } from '../mesh/telemetry/audience-view.ts'
import type { KidEntry } from '../mesh/telemetry/audience-summary.ts'

/** The chunks the delays are of: the newest the whole tree has reported, some seconds back. */
function published(w: AudienceView['delayWindow']): string {
  return w ? `  (chunks published ${Math.round((w.endedMsAgo + w.to - w.from) / 1000)}-${Math.round(w.endedMsAgo / 1000)} s ago)` : ''
}

/** `path`: a viewer's way up the report tree (SwarmStatus.pathToSource), `sources` the source's addresses. */
export function formatAudience(id: string, role: string, a: AudienceView, path: string[] = [], sources: string[] = []): string[] {
  const pct = (v: number | null) => (v === null ? '-' : `${(v * 100).toFixed(1)} %`)
  const ms = (v: number | null) => (v === null ? '-' : `${v} ms`)
  const kbps = (bytesPerSecond: number) => `${Math.round((bytesPerSecond * 8) / 1000)} kb/s`
  const who = role === 'source' ? 'audience' : 'subtree (this viewer and those that report through it)'
  const lines = [
    `stream ${id}  ${who}: ${a.viewers} viewer${a.viewers === 1 ? '' : 's'}${a.suspect ? `  (${a.suspect} suspect)` : ''}`,
    `  by depth   ${a.byDepth.map((n, d) => `${d}:${n}`).filter((_, d) => role !== 'source' || d > 0).join('  ') || '-'}`,
    `  chunks     on time ${pct(a.chunks.onTimeShare)}  complete ${pct(a.chunks.completeness)}  (on time ${a.chunks.onTime}, late ${a.chunks.late}, missed ${a.chunks.missed} in ${Math.round(a.windowMs / 1000)} s)`,
    `  delay      p50 ${ms(a.delayMs.p50)}  p95 ${ms(a.delayMs.p95)}  p99 ${ms(a.delayMs.p99)}${published(a.delayWindow)}`,
    `  stalls     ${a.stalls} (${a.stallSeconds.toFixed(1)} s)`,
    `  traffic    up ${kbps(a.uploadBytesPerSecond)}  down ${kbps(a.downloadBytesPerSecond)}  offload ${pct(a.offload)}`,
    `  nat        none ${a.nat.none}  cone ${a.nat.cone}  symmetric ${a.nat.symmetric}  unknown ${a.nat.unknown}`,
    `  versions   ${Object.entries(a.versions).map(([v, n]) => `${v}:${n}`).join('  ') || '-'}`,
  ]
  if (role !== 'source') {
    const reached = path.length > 0 && sources.includes(path[path.length - 1])
    lines.push(`  path up    ${path.length ? `${path.map((p) => (sources.includes(p) ? `source ${p}` : p)).join(' -> ')}${reached ? '' : ' -> ...'}` : 'no parent yet'}`)
  }
  const tree = (kids: KidEntry[], indent: string): void => {
    for (const k of kids) {
      lines.push(`${indent}${k.a}  ${k.v} viewer${k.v === 1 ? '' : 's'}  on time ${pct(k.h)}${k.s ? `  SUSPECT ${k.s}` : ''}`)
      if (k.k) tree(k.k, indent + '  ')
    }
  }
  if (a.kids.length) { lines.push('  report tree'); tree(a.kids, '    ') }
  return lines
}
