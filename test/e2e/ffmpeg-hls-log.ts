// Test helper: a real live HLS stream without the rest of the system. ffmpeg writes testsrc2 as
// single-file byte-range HLS (MEDIA.md); this class exposes it as a StreamLogReader whose segment
// records come from the growing playlist (read with the ingest's own parser) and whose bytes, all
// taken as verified, come from the growing media file.
import { spawn, type ChildProcess } from 'node:child_process'
import { EventEmitter } from 'node:events'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { parsePlaylist } from '../../src/ingest/playlist-parser.ts'
import {
  CHUNK_SIZE, type ChunkRecord, type SegmentRecord, type StreamHead, type StreamInfo, type StreamLogReader,
} from '../../src/store/stream-types.ts'

export const FFMPEG = '/usr/bin/ffmpeg'
export const E2E_KEY = 'e2'.repeat(32)

interface Parsed { targetDuration: number; segments: SegmentRecord[]; ended: boolean }

export class FfmpegHlsLog implements StreamLogReader {
  readonly id = `stream/${E2E_KEY}/e2e`
  private readonly events = new EventEmitter()
  private readonly proc: ChildProcess
  private readonly exited: Promise<void>
  private parsed: Parsed = { targetDuration: 1, segments: [], ended: false }
  private parsedAt = 0
  private readonly created = Date.now()
  readonly stderr: string[] = []

  constructor(private readonly dir: string, seconds: number) {
    this.proc = spawn(FFMPEG, [
      '-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds),
      '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p', '-g', '25',
      '-keyint_min', '25', '-sc_threshold', '0', '-b:v', '1500k', '-maxrate', '1500k', '-bufsize', '1500k',
      '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000',
      '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_playlist_type', 'event',
      '-hls_flags', 'single_file+independent_segments+program_date_time',
      '-hls_segment_filename', join(dir, 'stream.ts'), join(dir, 'stream.m3u8'),
    ], { stdio: ['ignore', 'ignore', 'pipe'] })
    this.proc.stderr!.on('data', (b: Buffer) => { if (this.stderr.length < 100) this.stderr.push(b.toString()) })
    this.exited = new Promise((resolve) => this.proc.once('exit', () => resolve()))
  }

  /** Re-reads the playlist at most every 200 ms (ffmpeg rewrites it once per segment). */
  private refresh(): Parsed {
    if (Date.now() - this.parsedAt < 200) return this.parsed
    this.parsedAt = Date.now()
    try {
      const r = parsePlaylist(readFileSync(join(this.dir, 'stream.m3u8'), 'utf8'))
      if (r.ok && r.playlist.segments.length >= this.parsed.segments.length) {
        this.parsed = {
          targetDuration: r.playlist.targetDuration ?? 1,
          ended: r.playlist.ended,
          segments: r.playlist.segments.map((seg, n) => ({
            n, offset: seg.offset, length: seg.length, duration: seg.duration, pdt: seg.pdt ?? this.created,
            discontinuity: seg.discontinuity, sig: '',
          })),
        }
      }
    } catch { /* not written yet */ }
    return this.parsed
  }

  private size(): number {
    const file = join(this.dir, 'stream.ts')
    return existsSync(file) ? statSync(file).size : 0
  }

  info(): StreamInfo {
    return { id: this.id, format: 'ts', init: null, targetDuration: this.refresh().targetDuration, created: this.created, sig: '' }
  }

  head(): StreamHead {
    const p = this.refresh()
    const length = this.size()
    return { id: this.id, chunks: Math.ceil(length / CHUNK_SIZE), length, segments: p.segments.length, time: Date.now(), ended: p.ended, sig: '' }
  }

  segmentCount(): number { return this.refresh().segments.length }
  segment(n: number): SegmentRecord | null { return this.parsed.segments[n] ?? null }

  chunkRecord(n: number): ChunkRecord | null {
    const size = this.size()
    const full = (n + 1) * CHUNK_SIZE <= size
    if (!Number.isInteger(n) || n < 0 || !(full || (this.parsed.ended && n * CHUNK_SIZE < size))) return null
    return { n, length: Math.min(CHUNK_SIZE, size - n * CHUNK_SIZE), blocks: [], sha256: '', time: Date.now(), sig: '' }
  }

  hasChunk(n: number): boolean { return this.chunkRecord(n) !== null }
  hasRange(offset: number, length: number): boolean { return offset >= 0 && length > 0 && offset + length <= this.size() }

  async read(offset: number, length: number): Promise<Buffer> {
    const fh = await open(join(this.dir, 'stream.ts'), 'r')
    try {
      const buf = Buffer.alloc(length)
      const { bytesRead } = await fh.read(buf, 0, length, offset)
      if (bytesRead !== length) throw Object.assign(new Error('short read'), { code: 'ERR_NOT_VERIFIED' })
      return buf
    } finally {
      await fh.close()
    }
  }

  on(event: string, fn: (...args: never[]) => void): this {
    this.events.on(event, fn as (...args: unknown[]) => void)
    return this
  }

  off(event: string, fn: (...args: never[]) => void): this {
    this.events.off(event, fn as (...args: unknown[]) => void)
    return this
  }

  /** Stops ffmpeg (SIGINT lets it finish the file; SIGKILL if it lingers); idempotent. */
  async close(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGINT')
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000)
      await this.exited
      clearTimeout(timer)
    }
  }
}
