// Node statuses shaped like Runtime.status(), for the dashboard's tests.

export const SID = 'stream/' + 'ab'.repeat(32) + '/cam'

export interface FakeNode { udp: string; role?: 'source' | 'viewer'; parents?: (string | null)[]; children?: string[][]; fedBy?: Record<string, number>;
  up?: number; down?: number; fromSource?: number; produced?: number; stalls?: number; p95?: number; http?: string; peers?: string[]
  sources?: string[]; headBytes?: number; headTime?: number; hops?: Record<string, number> }

/** A /status.json body shaped like Runtime.status(). */
export function fakeStatus(n: FakeNode): Record<string, unknown> {
  return {
    node: { udp: n.udp, http: n.http ?? `http://127.0.0.1:${Number(n.udp.split(':')[1]) + 1000}`, role: n.role ?? 'viewer' },
    peers: [{ addr: '127.0.0.1:1', lastHeardMsAgo: 100, banned: false }],
    playback: { stalls: n.stalls ?? 0, stallSeconds: (n.stalls ?? 0) * 0.5, reports: 1, latencySeconds: null },
    dashboardPeers: n.peers ?? [],
    streams: [{
      id: SID, role: n.role ?? 'viewer', sources: n.sources ?? [], head: { chunks: 1, segments: 1, ended: false, bytes: n.headBytes ?? 0, time: n.headTime ?? 0 }, parents: n.parents ?? [null, null, null, null], children: n.children ?? [[], [], [], []],
      fedBy: n.fedBy ?? {}, uploadedBytes: n.up ?? 0, receivedBytes: n.down ?? 0, receivedFromSourceBytes: n.fromSource ?? 0,
      duplicateBytes: 0, producedBytes: n.produced ?? 0, verifiedChunks: 10,
      delayMs: { p50: 40, p95: n.p95 ?? 100, p99: 150, max: 200, count: n.role === 'source' ? 0 : 10 }, hops: n.hops ?? { 1: 10 },
    }],
  }
}

