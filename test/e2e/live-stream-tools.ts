// Helpers for the live-stream end-to-end tests: reading a node's HTTP endpoint (status, playlist,
// verified media by Range), probing media with ffprobe, and a hostile raw-UDP peer.
import { execFile } from 'node:child_process'
import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'

const run = promisify(execFile)
export const FFPROBE = '/usr/bin/ffprobe'
export const CHUNK = 16384

import type { NodeStatus } from '../../src/metrics/node-status.ts'
export type { NodeStatus, StreamStatus } from '../../src/metrics/node-status.ts'

export async function status(http: string): Promise<NodeStatus> {
  const res = await fetch(`${http}/status.json`, { signal: AbortSignal.timeout(5000) })
  if (!res.ok) throw new Error(`${http}/status.json answered ${res.status}`)
  return (await res.json()) as NodeStatus
}

export interface PlaylistSegment { seq: number; duration: number; offset: number; length: number }
export interface Playlist { mediaSequence: number; segments: PlaylistSegment[]; ended: boolean; text: string }

export function parsePlaylist(text: string): Playlist {
  const out: Playlist = { mediaSequence: 0, segments: [], ended: false, text }
  let duration = NaN
  let range: { length: number; offset: number } | null = null
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) out.mediaSequence = Number(line.slice(22))
    else if (line.startsWith('#EXTINF:')) duration = parseFloat(line.slice(8))
    else if (line.startsWith('#EXT-X-BYTERANGE:')) {
      const [len, off] = line.slice(17).split('@')
      range = { length: Number(len), offset: Number(off) }
    } else if (line === '#EXT-X-ENDLIST') out.ended = true
    else if (line && !line.startsWith('#') && range) {
      out.segments.push({ seq: out.mediaSequence + out.segments.length, duration, ...range })
      range = null
    }
  }
  return out
}

export async function playlist(http: string, id: string): Promise<Playlist | null> {
  const res = await fetch(`${http}/streams/${id}/index.m3u8`, { signal: AbortSignal.timeout(5000) })
  if (res.status === 503) return null
  if (!res.ok) throw new Error(`playlist answered ${res.status}`)
  return parsePlaylist(await res.text())
}

/** Bytes [offset, offset+length) of the stream's media, which must come back as a 206. */
export async function media(http: string, id: string, offset: number, length: number): Promise<Buffer> {
  const res = await fetch(`${http}/streams/${id}/media`, { headers: { range: `bytes=${offset}-${offset + length - 1}` }, signal: AbortSignal.timeout(10_000) })
  if (res.status !== 206) throw new Error(`media range ${offset}+${length} answered ${res.status}: ${await res.text()}`)
  const b = Buffer.from(await res.arrayBuffer())
  if (b.length !== length) throw new Error(`media range ${offset}+${length} gave ${b.length} bytes`)
  return b
}

export interface Probe {
  streams: Array<{ codec_type: string; codec_name: string; nb_read_frames?: string }>
  format: { duration?: string; format_name: string }
}

/** ffprobe with every frame decoded (-count_frames), so a corrupt stream fails here. */
export async function ffprobe(file: string): Promise<Probe & { stderr: string }> {
  const { stdout, stderr } = await run(FFPROBE, ['-v', 'error', '-count_frames', '-show_entries',
    'stream=codec_type,codec_name,nb_read_frames:format=duration,format_name', '-of', 'json', file], { maxBuffer: 1 << 20 })
  return { ...(JSON.parse(stdout) as Probe), stderr }
}

/**
 * A hostile peer on a raw UDP socket: completes the cookie handshake with a victim (so it is a
 * verified sender), then pushes garbage for chunks that do not exist yet, followed by a forged
 * chunk record. When the genuine records arrive, the garbage must fail verification.
 */
export class HostilePeer {
  private sock: Socket
  private inbox: unknown[][] = []
  private theirCookie: unknown

  private constructor(sock: Socket, readonly victim: { host: string; port: number }) {
    this.sock = sock
    sock.on('message', (buf) => { try { const v = JSON.parse(buf.toString('utf8')); if (Array.isArray(v)) this.inbox.push(v) } catch { /* ignore */ } })
  }

  static async open(victim: string): Promise<HostilePeer> {
    const sock = createSocket('udp4')
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r))
    const i = victim.lastIndexOf(':')
    return new HostilePeer(sock, { host: victim.slice(0, i), port: Number(victim.slice(i + 1)) })
  }

  private send(msgs: unknown[]): void {
    const prefix = this.theirCookie === undefined ? [] : [{ AlwaysReturned: this.theirCookie }]
    this.sock.send(JSON.stringify([...prefix, ...msgs]), this.victim.port, this.victim.host)
  }

  private async waitFor(type: string, timeoutMs: number, resend: () => void): Promise<unknown> {
    const deadline = Date.now() + timeoutMs
    let next = 0
    while (Date.now() < deadline) {
      for (const dg of this.inbox) for (const m of dg) {
        if (m && typeof m === 'object' && type in m) return (m as Record<string, unknown>)[type]
      }
      if (Date.now() >= next) { resend(); next = Date.now() + 500 }
      await new Promise((r) => setTimeout(r, 20))
    }
    throw new Error(`the victim never sent ${type}`)
  }

  /** Learns the victim's cookie and returns it, which makes us a verified sender. */
  async handshake(streamId: string): Promise<void> {
    this.theirCookie = await this.waitFor('PleaseAlwaysReturnThisMessage', 10_000,
      () => this.send([{ PleaseAlwaysReturnThisMessage: { cookie: 'hostile' } }, { PleaseSendPeers: {} }]))
    this.inbox = []
    await this.waitFor('ThisStreamGrew', 10_000, () => this.send([{ PleaseSendStreamHead: { id: streamId } }]))
  }

  /** Garbage blocks (full chunks) for each chunk n, then one forged record. */
  injectGarbage(streamId: string, chunks: number[]): void {
    for (const n of chunks) {
      const blocks = []
      for (let off = 0; off < CHUNK; off += 4096) {
        blocks.push({ Content: { id: streamId, offset: n * CHUNK + off, base64: randomBytes(4096).toString('base64'), hops: 1 } })
      }
      this.send(blocks)
    }
    const b64 = (len: number) => randomBytes(len).toString('base64')
    this.send([{ HereAreChunkHashes: { id: streamId, chunks: [{ n: chunks[0], length: CHUNK, blocks: [b64(32), b64(32), b64(32), b64(32)], sha256: b64(32), time: Date.now(), sig: b64(64) }] } }])
  }

  get address(): string { return `127.0.0.1:${this.sock.address().port}` }

  close(): void { try { this.sock.close() } catch { /* closed */ } }
}
