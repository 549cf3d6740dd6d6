// Pure: an input spec and encode options in, ffmpeg's argument list out. Output is always H.264 +
// AAC into ONE growing media file plus a playlist of byte ranges into it (see MEDIA.md).
//
// ffmpeg's playlist is bounded: a sliding window of FFMPEG_WINDOW_SECONDS (`-hls_list_size N`, not
// an event playlist). An event playlist grows for as long as the stream runs (77 KB after 11
// minutes, rewritten in place every segment, re-read by us every segment). Only our follower reads
// this playlist, never a player (single_file mode writes MEDIA-SEQUENCE:0 forever, which freezes
// hls.js; the player writes its own from signed records), and the follower orders segments by
// their byte offset in the one media file, not by position or MEDIA-SEQUENCE, so a sliding window
// loses nothing unless we fall a whole minute behind (then it warns; the bytes still arrive).
// The alternative, restarting ffmpeg every so often into a new run, would bound the playlist
// too, but every restart is a discontinuity, a new encoder warm-up and a gap of a second or two
// without segments that a viewer with three segments of buffer feels.

import { existsSync } from 'node:fs'
import type { MediaFormat } from '../store/stream-types.ts'
import { IngestError } from './ingest-error.ts'
import { clockStripFilter } from './clock-strip.ts'

export type InputSpec =
  | { kind: 'testsrc' }
  | { kind: 'v4l2'; device: string; audio?: string }
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string }

export type LatencyMode = 'low' | 'normal'

export interface EncodeOptions {
  /** HLS segment length in seconds; the keyframe interval is fps x this (normal latency). */
  segmentSeconds: number
  /** 'low': ffmpeg writes LL-HLS parts (see lowLatencyTiming); default 'normal'. */
  latency?: LatencyMode
  format: MediaFormat
  /** Video bitrate as ffmpeg takes it: "1500k", "2M", "800000". */
  bitrate: string
  /** Files only: play again from the start at EOF. */
  loop: boolean
  /** Output frame rate; fixed so the GOP (and so every segment) has a known length. */
  fps: number
  /** Font for the burned-in wall clock (testsrc); null skips the clock. */
  fontFile: string | null
  /** Wall clock (ms since epoch) when ffmpeg starts: the burned-in clock's origin. */
  startMs: number
  mediaPath: string
  playlistPath: string
  /** Segments ffmpeg's own playlist lists (default: ffmpegWindowSegments(segmentSeconds)). */
  windowSegments?: number
}

export interface FfmpegArgs {
  inputs: Array<{ options: string[]; source: string }>
  output: { options: string[]; target: string }
  /** Things the caller should log (e.g. no font, so no burned-in clock). */
  warnings: string[]
}

export const DEFAULT_FONT_FILE = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'
export const DEFAULT_ENCODE = { segmentSeconds: 1, format: 'ts', bitrate: '1500k', loop: false, fps: 25 } as const

/** Seconds of segments ffmpeg's own playlist keeps listed: our follower reads it within a poll
 * interval, so a minute is a wide margin, and the file stays a few KB. */
export const FFMPEG_WINDOW_SECONDS = 60
/** Fewest segments in that window, for long segments. */
const MIN_WINDOW_SEGMENTS = 10
/** Segments shorter than this make the playlist churn and players stall; longer ones add latency for nothing. */
const SEGMENT_SECONDS_RANGE = [0.2, 30] as const
const FPS_RANGE = [1, 120] as const
const BITRATE_RE = /^\d+(\.\d+)?[kKmM]?$/
/** Characters that need no filtergraph escaping; other font paths skip the clock rather than risk injection. */
const SAFE_FONT_PATH_RE = /^[A-Za-z0-9._/-]+$/

/** Part length asked for in low-latency mode: hls.js is unstable under about 200 ms, and every
 * part of hold-back the player keeps (3 parts, RFC 8216bis PART-HOLD-BACK) is latency. */
export const LOW_LATENCY_PART_SECONDS = 0.25

export interface LowLatencyTiming {
  /** Frames per part, and the part length that makes (a whole number of frames). */
  partFrames: number
  partSeconds: number
  /** Parts per segment; the keyframe interval is one segment. */
  partsPerSegment: number
  gopFrames: number
  segmentSeconds: number
}

/** Whole frames per part, and a keyframe interval that is a whole number of parts, so every
 * segment begins with a keyframe at a part boundary (25 fps, 1 s: 6-frame parts of 0.24 s, four
 * to a 0.96 s segment). */
export function lowLatencyTiming (fps: number, segmentSeconds: number): LowLatencyTiming {
  const partFrames = Math.max(1, Math.round(fps * LOW_LATENCY_PART_SECONDS))
  const partSeconds = partFrames / fps
  const partsPerSegment = Math.max(1, Math.round(segmentSeconds / partSeconds))
  const gopFrames = partFrames * partsPerSegment
  return { partFrames, partSeconds, partsPerSegment, gopFrames, segmentSeconds: gopFrames / fps }
}

/** Reads a CLI input argument: `testsrc`, `/dev/videoN`, `scheme://...`, else a media file path. */
export function parseInput (input: string, audio?: string): InputSpec {
  if (input === 'testsrc') return { kind: 'testsrc' }
  if (/^\/dev\/video\d+$/.test(input)) return audio ? { kind: 'v4l2', device: input, audio } : { kind: 'v4l2', device: input }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return { kind: 'url', url: input }
  if (input.length === 0) throw new IngestError('ERR_BAD_INPUT', 'input is empty')
  return { kind: 'file', path: input }
}

/** Not pure: the default font when fonts-dejavu-core is installed, else null. */
export function findDefaultFont (): string | null {
  return existsSync(DEFAULT_FONT_FILE) ? DEFAULT_FONT_FILE : null
}

export function validateEncodeOptions (o: Pick<EncodeOptions, 'segmentSeconds' | 'bitrate' | 'fps'>): void {
  if (!(o.segmentSeconds >= SEGMENT_SECONDS_RANGE[0] && o.segmentSeconds <= SEGMENT_SECONDS_RANGE[1])) {
    throw new IngestError('ERR_BAD_INPUT', `segment seconds must be in [${SEGMENT_SECONDS_RANGE.join(', ')}], got ${o.segmentSeconds}`)
  }
  if (!BITRATE_RE.test(o.bitrate)) throw new IngestError('ERR_BAD_INPUT', `bitrate must look like 1500k or 2M, got ${JSON.stringify(o.bitrate)}`)
  if (!(Number.isInteger(o.fps) && o.fps >= FPS_RANGE[0] && o.fps <= FPS_RANGE[1])) {
    throw new IngestError('ERR_BAD_INPUT', `fps must be an integer in [${FPS_RANGE.join(', ')}], got ${o.fps}`)
  }
}

/** How many segments ffmpeg's own playlist lists at once. */
export function ffmpegWindowSegments (segmentSeconds: number): number {
  return Math.max(MIN_WINDOW_SEGMENTS, Math.ceil(FFMPEG_WINDOW_SECONDS / segmentSeconds))
}

/** Seconds since UTC midnight with ms (how far into its day a wall-clock instant is). */
export function clockOffsetSeconds (startMs: number): string {
  return ((((startMs % 86_400_000) + 86_400_000) % 86_400_000) / 1000).toFixed(3)
}

function clockFilter (fontFile: string, startMs: number): string {
  // The clock is the wall clock when the frame went through the filter (RTCTIME, microseconds), not
  // the stream's pts plus the time we built these arguments: ffmpeg takes from 0.2 s to 2 s on a busy
  // machine to start, and a pts-based clock would lag by that much and inflate glass-to-glass
  // readings. setpts swaps in seconds since UTC midnight for drawtext's pts:hms (HH:MM:SS.mmm), and
  // a second setpts restores the frame-count timestamps the encoder expects. The block strip
  // (clock-strip.ts) is the same clock for machines: a latency script reads it from screenshots.
  const midnightUs = (startMs - (((startMs % 86_400_000) + 86_400_000) % 86_400_000)) * 1000
  const text = '%{pts\\:hms} UTC'
  return `setpts='(RTCTIME-${midnightUs})/(TB*1000000)',` +
    `${clockStripFilter()},drawtext=fontfile=${fontFile}:text='${text}':x=10:y=h-th-10:fontsize=28:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=6,` +
    'setpts=N/(FRAME_RATE*TB)'
}

export function buildFfmpegArgs (input: InputSpec, o: EncodeOptions): FfmpegArgs {
  validateEncodeOptions(o)
  const warnings: string[] = []
  const global = ['-hide_banner', '-nostdin', '-loglevel', 'warning']
  const inputs: FfmpegArgs['inputs'] = []
  const maps: string[] = []
  const filters: string[] = []

  switch (input.kind) {
    case 'testsrc':
      inputs.push({ options: ['-re', '-f', 'lavfi'], source: `testsrc2=size=640x360:rate=${o.fps}` })
      inputs.push({ options: ['-re', '-f', 'lavfi'], source: 'sine=frequency=440:sample_rate=48000' })
      maps.push('-map', '0:v:0', '-map', '1:a:0')
      if (o.fontFile && SAFE_FONT_PATH_RE.test(o.fontFile)) {
        filters.push(clockFilter(o.fontFile, o.startMs))
      } else {
        warnings.push(o.fontFile
          ? `font path ${JSON.stringify(o.fontFile)} has characters drawtext would need escaped: no burned-in clock`
          : `no font at ${DEFAULT_FONT_FILE} (install fonts-dejavu-core): no burned-in clock`)
      }
      break
    case 'v4l2':
      // Capture devices are live: no -re. A larger thread queue avoids "thread message queue blocking" drops.
      inputs.push({ options: ['-f', 'v4l2', '-thread_queue_size', '512'], source: input.device })
      maps.push('-map', '0:v:0')
      if (input.audio) {
        inputs.push({ options: ['-f', 'alsa', '-thread_queue_size', '512'], source: input.audio })
        maps.push('-map', '1:a:0')
      }
      break
    case 'file':
      inputs.push({ options: ['-re', ...(o.loop ? ['-stream_loop', '-1'] : [])], source: input.path })
      maps.push('-map', '0:v:0', '-map', '0:a:0?')
      break
    case 'url':
      inputs.push({ options: [], source: input.url })
      maps.push('-map', '0:v:0', '-map', '0:a:0?')
      break
  }
  inputs[0].options.unshift(...global)
  if (input.kind === 'v4l2' && !input.audio) maps.push('-an')

  // Low latency: ffmpeg's HLS muxer writes a segment's bytes only when the segment is done, so we
  // make each of ITS segments one of OUR parts (split_by_time cuts between keyframes, fMP4 only:
  // a part must be a self-contained moof+mdat) and group parts into segments at keyframes on
  // ingest. No B-frames: reordering would hold each frame back until a later one is encoded.
  const low = o.latency === 'low'
  if (low && o.format !== 'fmp4') throw new IngestError('ERR_BAD_INPUT', '--latency low needs --format fmp4 (parts are fMP4 fragments)')
  const timing = low ? lowLatencyTiming(o.fps, o.segmentSeconds) : null
  const gop = String(timing ? timing.gopFrames : Math.max(1, Math.round(o.fps * o.segmentSeconds)))
  const hlsTime = timing ? timing.partSeconds : o.segmentSeconds
  const windowSegments = o.windowSegments ?? ffmpegWindowSegments(hlsTime)
  const options = [
    ...maps,
    ...(filters.length ? ['-vf', filters.join(',')] : []),
    '-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p',
    '-r', String(o.fps), '-g', gop, '-keyint_min', gop, '-sc_threshold', '0', ...(low ? ['-bf', '0'] : []),
    '-b:v', o.bitrate, '-maxrate', o.bitrate, '-bufsize', o.bitrate,
    '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-ar', '48000',
    '-f', 'hls', '-hls_time', String(hlsTime), '-hls_list_size', String(windowSegments),
    '-hls_flags', low ? 'single_file+split_by_time+program_date_time' : 'single_file+independent_segments+program_date_time',
    '-hls_segment_type', o.format === 'fmp4' ? 'fmp4' : 'mpegts',
    '-hls_segment_filename', o.mediaPath,
  ]
  return { inputs, output: { options, target: o.playlistPath }, warnings }
}

/** The full argv, in the order fluent-ffmpeg assembles it (inputs, -y, output options, target). */
export function toArgv (a: FfmpegArgs): string[] {
  return [
    ...a.inputs.flatMap((i) => [...i.options, '-i', i.source]),
    '-y',
    ...a.output.options,
    a.output.target,
  ]
}
