// Turns an input (testsrc, camera, file, URL; or another program's files with --tail) into a
// stream: ffmpeg writes one growing media file + byte-range playlist per run, IngestRun follows
// them, and every sink call goes through one queue so the sink sees appends and segment records
// strictly in order. A crashed ffmpeg is restarted into a NEW run directory (reusing a name would
// truncate it) and the stream goes on with a discontinuity.
//
// fMP4 limitation: each run's file starts with its own init segment, appended to the log like any
// bytes, but the stream info records only the first run's init (StreamInfo has one). Restarts
// encode with the same settings, so the inits match in practice; a player that needs the exact
// init of a later run has to find it at that run's first offset.

import { EventEmitter } from 'node:events'
import PQueue from 'p-queue'
import { mkdir, rm } from 'node:fs/promises'
import { basename, dirname, extname, join, resolve as resolvePath } from 'node:path'
import { MAX_PARTS_PER_SEGMENT } from '../store/record-shape.ts'
import type { MediaFormat } from '../store/stream-types.ts'
import { resolveFfmpeg } from './ffmpeg-binary.ts'
import { buildFfmpegArgs, DEFAULT_ENCODE, findDefaultFont, parseInput, validateEncodeOptions, type InputSpec, type LatencyMode } from './ffmpeg-args.ts'
import { FfmpegProcess, type FfmpegExit } from './ffmpeg-process.ts'
import { systemClock, type IngestClock, type IngestLogger } from './ingest-components.ts'
import { IngestError } from './ingest-error.ts'
import { IngestRun } from './ingest-run.ts'
import type { IngestSegment, IngestSink } from './ingest-sink.ts'
import { decideRestart, DEFAULT_RESTART_POLICY, type RestartPolicy } from './restart-policy.ts'

/** Parts in one segment at most (the signed record's bound, record-shape.ts). */
const MAX_PARTS = MAX_PARTS_PER_SEGMENT

export const State = {
  Idle: 'idle',
  Starting: 'starting',
  Running: 'running',
  /** ffmpeg died; waiting out the backoff before the next run. */
  Restarting: 'restarting',
  Stopping: 'stopping',
  Ended: 'ended',
  Failed: 'failed',
} as const
export type IngestState = typeof State[keyof typeof State]

export interface IngestInit {
  /** `testsrc`, `/dev/videoN`, a media file or an ffmpeg-readable URL. Ignored with `tail`. */
  input: string
  name: string
  segmentSeconds?: number
  /** 'low': LL-HLS parts (fMP4 only; see ffmpeg-args.ts), grouped into segments at keyframes. */
  latency?: LatencyMode
  format?: MediaFormat
  bitrate?: string
  loop?: boolean
  fps?: number
  /** ALSA device for a V4L2 input. */
  audio?: string
  ffmpegPath?: string
  workDir: string
  /** Follow this growing media file (or its .m3u8) written by another program; no ffmpeg. */
  tail?: string
  restartPolicy?: RestartPolicy
  pollMs?: number
  /** Segments in ffmpeg's own sliding playlist (tests shrink it; see ffmpeg-args.ts). */
  ffmpegWindowSegments?: number
  /** Keep run files whole (default: free the running one's bytes once they are in the log, see
   * hole-puncher.ts, and delete finished run directories). */
  keepRunFiles?: boolean
  /** Consumed bytes per hole punched in the running ffmpeg's file (tests shrink it). */
  punchEveryBytes?: number
  env?: NodeJS.ProcessEnv
}

export class Ingest extends EventEmitter {
  private readonly sink: IngestSink
  private readonly logger: IngestLogger
  private readonly clock: IngestClock
  private readonly init: IngestInit
  private readonly policy: RestartPolicy
  private readonly spec: InputSpec | null
  private _state: IngestState = State.Idle
  private ffmpegPath = ''
  private run: IngestRun | null = null
  private proc: FfmpegProcess | null = null
  private runs = 0
  private runStartedAt = 0
  private fastFailures = 0
  private needDiscontinuity = false
  private infoSent = false
  private appended = 0
  private segmentsAdded = 0
  /** Low latency: index of the last part handed over within its segment (-1: none yet). */
  private partIndex = -1
  /** One call at a time, in order: the sink must see appends and segment records strictly in sequence. */
  private readonly sinkQueue = new PQueue({ concurrency: 1 })
  private sinkFailed = false
  private restartTimer: NodeJS.Timeout | null = null
  private stopping: Promise<void> | null = null
  private settle: (err: IngestError | Error | null) => void = () => {}
  private readonly done: Promise<IngestError | Error | null>

  constructor (components: { sink: IngestSink; logger: IngestLogger; clock?: IngestClock }, init: IngestInit) {
    super()
    this.sink = components.sink
    this.logger = components.logger
    this.clock = components.clock ?? systemClock
    this.init = init
    this.policy = init.restartPolicy ?? DEFAULT_RESTART_POLICY
    validateEncodeOptions({ segmentSeconds: this.segmentSeconds, bitrate: init.bitrate ?? DEFAULT_ENCODE.bitrate, fps: init.fps ?? DEFAULT_ENCODE.fps })
    if (init.latency === 'low' && !init.tail && (init.format ?? DEFAULT_ENCODE.format) !== 'fmp4') {
      throw new IngestError('ERR_BAD_INPUT', '--latency low needs --format fmp4 (parts are fMP4 fragments)')
    }
    this.spec = init.tail ? null : parseInput(init.input, init.audio)
    this.done = new Promise((resolve) => { this.settle = resolve })
  }

  get state (): IngestState { return this._state }
  get bytesAppended (): number { return this.appended }
  get segmentCount (): number { return this.segmentsAdded }
  get restarts (): number { return Math.max(0, this.runs - 1) }
  /** Bytes of the running ffmpeg's file given back to the file system (hole-puncher.ts). */
  get freedBytes (): number { return this.run?.freedBytes ?? 0 }
  /** The running ffmpeg's pid, or null (tail mode, between runs). */
  get pid (): number | null { return this.proc?.pid ?? null }

  /** Resolves when the stream is over: null after a clean end, else the error that ended it. Never rejects. */
  whenDone (): Promise<IngestError | Error | null> { return this.done }

  /** Resolves at the first segment in the sink; rejects with what ended the stream before one
   * (ERR_FFMPEG_FAILED carrying ffmpeg's last stderr line, or an IngestError('ERR_STATE') when it
   * ended cleanly with nothing). Lets a command print a stream's URLs only once it exists. */
  firstSegment (): Promise<void> {
    if (this.segmentsAdded > 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onSegment = (): void => { this.off('segment', onSegment); resolve() }
      this.on('segment', onSegment)
      void this.done.then((err) => {
        this.off('segment', onSegment)
        if (this.segmentsAdded > 0) resolve()
        else reject(err ?? new IngestError('ERR_STATE', `ingest ${this.init.name} ended before its first segment`))
      })
    })
  }

  /** Resolves once the first run started. Throws IngestError (ERR_NO_FFMPEG, ERR_STATE, ...). */
  async start (): Promise<void> {
    if (this._state !== State.Idle) throw new IngestError('ERR_STATE', `start() in state ${this._state}`)
    this.setState(State.Starting)
    try {
      if (!this.init.tail) {
        const bin = await resolveFfmpeg({ explicit: this.init.ffmpegPath, env: this.init.env })
        this.ffmpegPath = bin.path
        this.logger.info(`ffmpeg: ${bin.path} (${bin.source}): ${bin.version}`)
      }
      if (this.isOver()) return // stopped meanwhile
      await this.startRun()
      if (!this.isOver()) this.setState(State.Running)
    } catch (err) {
      this.setState(State.Failed)
      this.settle(err as Error)
      throw err
    }
  }

  /** SIGINT ffmpeg, pass on its last bytes and segments, then sink.end(). Idempotent. */
  stop (): Promise<void> {
    if (this._state === State.Ended || this._state === State.Failed) return this.done.then(() => {})
    this.stopping ??= this.finishStream(async () => {
      this.clearRestartTimer()
      await this.proc?.stop()
    })
    return this.stopping
  }

  close (): Promise<void> { return this.stop() }

  private get segmentSeconds (): number { return this.init.segmentSeconds ?? DEFAULT_ENCODE.segmentSeconds }
  private get low (): boolean { return this.init.latency === 'low' }

  /** A segment begins at each keyframe part (the keyframe interval is one segment, ffmpeg-args.ts),
   * after a restart, and after MAX_PARTS parts of a stream that never sends a keyframe. */
  private nextPartIndex (independent: boolean, discontinuity: boolean): number {
    const startsSegment = this.partIndex < 0 || independent || discontinuity || this.partIndex + 1 >= MAX_PARTS
    this.partIndex = startsSegment ? 0 : this.partIndex + 1
    return this.partIndex
  }

  private setState (next: IngestState): void {
    const prev = this._state
    if (prev === next) return
    this._state = next
    this.logger.debug(`ingest ${this.init.name}: ${prev} -> ${next}`)
    this.emit('state', next, prev)
  }

  private async startRun (): Promise<void> {
    const index = ++this.runs
    let playlistPath: string
    let mediaPath: string | null
    if (this.init.tail) {
      // Absolute, so it compares equal to segment URIs resolved against the playlist's folder.
      const t = resolvePath(this.init.tail)
      playlistPath = extname(t) === '.m3u8' ? t : join(dirname(t), basename(t, extname(t)) + '.m3u8')
      mediaPath = extname(t) === '.m3u8' ? null : t
    } else {
      const stamp = new Date(this.clock.now()).toISOString().replace(/[-:.]/g, '')
      const dir = join(this.init.workDir, `run-${stamp}-${index}`)
      await mkdir(dir, { recursive: true })
      // stop() may have come while we waited: starting ffmpeg now would orphan it.
      if (this.isOver()) return
      const format = this.init.format ?? DEFAULT_ENCODE.format
      mediaPath = join(dir, format === 'fmp4' ? 'stream.m4s' : 'stream.ts')
      playlistPath = join(dir, 'stream.m3u8')
    }
    const run = new IngestRun({ logger: this.logger }, {
      base: this.appended, playlistPath, mediaPath, pollMs: this.init.pollMs,
      freeConsumed: !this.init.tail && !this.init.keepRunFiles, punchEveryBytes: this.init.punchEveryBytes,
    }, {
      header: async (h, base) => {
        if (this.infoSent) return
        this.infoSent = true
        const init = h.map ? { offset: base + h.map.offset, length: h.map.length } : null
        // Low latency: ffmpeg's own segments are our parts, so its TARGETDURATION (0) is not ours.
        const targetDuration = (this.low ? null : h.targetDuration) || Math.ceil(this.segmentSeconds)
        await this.toSink(() => this.sink.setInfo({ format: h.map ? 'fmp4' : 'ts', init, targetDuration }))
      },
      append: async (bytes) => {
        await this.toSink(() => this.sink.append(bytes))
        this.appended += bytes.length
        this.emit('bytes', bytes.length)
      },
      segment: async ({ independent, ...s }) => {
        const discontinuity = s.discontinuity || this.needDiscontinuity
        const seg: IngestSegment = { ...s, pdt: s.pdt ?? this.clock.now(), discontinuity }
        if (this.low) seg.part = { index: this.nextPartIndex(independent, discontinuity), independent }
        await this.toSink(() => this.sink.addSegment(seg))
        this.needDiscontinuity = false
        this.segmentsAdded++
        this.emit('segment', seg)
      },
      ended: () => { if (this.init.tail) void this.stop() },
      error: (err) => this.fail(err),
    })
    this.run = run
    run.start()
    if (this.init.tail || !this.spec) return

    const args = buildFfmpegArgs(this.spec, {
      segmentSeconds: this.segmentSeconds,
      format: this.init.format ?? DEFAULT_ENCODE.format,
      bitrate: this.init.bitrate ?? DEFAULT_ENCODE.bitrate,
      loop: this.init.loop ?? DEFAULT_ENCODE.loop,
      fps: this.init.fps ?? DEFAULT_ENCODE.fps,
      latency: this.init.latency,
      fontFile: findDefaultFont(),
      startMs: this.clock.now(),
      mediaPath: mediaPath as string,
      playlistPath,
      windowSegments: this.init.ffmpegWindowSegments,
    })
    if (index === 1) for (const w of args.warnings) this.logger.warn(w)
    // No cwd: relative input paths mean what the user typed them relative to.
    const proc = new FfmpegProcess({ logger: this.logger }, { ffmpegPath: this.ffmpegPath, args })
    this.proc = proc
    this.runStartedAt = this.clock.now()
    proc.once('exit', (exit: FfmpegExit) => { void this.onExit(run, proc, exit) })
  }

  private async onExit (run: IngestRun, proc: FfmpegProcess, exit: FfmpegExit): Promise<void> {
    if (this.isOver() || exit.requested) return
    const lifetime = this.clock.now() - this.runStartedAt
    if (exit.code === 0) {
      // The input ended (a file without --loop): ffmpeg wrote #EXT-X-ENDLIST.
      this.logger.info(`ffmpeg finished its input after ${Math.round(lifetime / 1000)} s`)
      this.stopping ??= this.finishStream(async () => {})
      return
    }
    const reason = exit.spawnError
      ? `ffmpeg could not start: ${exit.spawnError.message}`
      : `ffmpeg exited (code ${exit.code}, signal ${exit.signal}): ${exit.stderrTail.slice(-3).join(' | ') || 'no stderr'}`
    try {
      await run.finish()
      await this.removeRunDir(run)
    } catch (err) {
      return this.fail(err as Error)
    }
    if (this.proc === proc) this.proc = null
    if (this.isOver()) return
    if (this.segmentsAdded === 0) {
      // Never produced a segment: a missing file, a bad URL, a busy camera. Restarting would only
      // print a stream id for a stream that will never exist; say what ffmpeg said and stop.
      return this.fail(new IngestError('ERR_FFMPEG_FAILED', `ffmpeg failed before its first segment: ${lastLine(exit)}`))
    }
    const decision = decideRestart(this.policy, this.fastFailures, lifetime)
    this.fastFailures = decision.fastFailures
    if (decision.action === 'give-up') {
      return this.fail(new IngestError('ERR_FFMPEG_FAILED',
        `ffmpeg failed ${decision.fastFailures} times in a row, each within ${this.policy.fastFailureMs} ms; giving up. Last: ${reason}\n${exit.stderrTail.join('\n')}`))
    }
    this.logger.warn(`${reason}; restarting in ${decision.delayMs} ms`)
    this.needDiscontinuity = true
    this.setState(State.Restarting)
    this.emit('restart', reason)
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null
      if (this.isOver()) return
      this.startRun().then(() => { if (!this.isOver()) this.setState(State.Running) }, (err: Error) => this.fail(err))
    }, decision.delayMs)
  }

  /** The one path to Ended: stop the writer, drain the run, end the sink. */
  private async finishStream (stopWriter: () => Promise<void>): Promise<void> {
    this.setState(State.Stopping)
    try {
      await stopWriter()
      await this.run?.finish()
      if (this.run) await this.removeRunDir(this.run)
      if (!this.infoSent) this.logger.warn(`ingest ${this.init.name} ended before its first segment: the stream is empty`)
      await this.toSink(() => this.sink.end())
    } catch (err) {
      return this.fail(err as Error)
    }
    this.setState(State.Ended)
    this.emit('end')
    this.settle(null)
  }

  private fail (err: Error): void {
    if (this._state === State.Failed || this._state === State.Ended) return
    this.setState(State.Failed)
    this.clearRestartTimer()
    this.logger.error(`ingest ${this.init.name} failed: ${err.message}`)
    if (this.listenerCount('error') > 0) this.emit('error', err)
    void (async () => {
      await this.proc?.stop().catch(() => {})
      await this.run?.close().catch(() => {})
      // Best effort, so viewers learn the stream is over; a sink that already failed gets no more calls.
      if (!this.sinkFailed) await this.toSink(() => this.sink.end()).catch(() => {})
      this.settle(err)
    })()
  }

  private toSink (call: () => Promise<void>): Promise<void> {
    // Calls queued behind a failing one get no turn either: the sink has lost its order.
    return this.sinkQueue.add(async () => {
      if (this.sinkFailed) throw new IngestError('ERR_STATE', 'the sink failed earlier')
      try {
        await call()
      } catch (err) {
        this.logger.error(`sink: ${(err as Error).message}`)
        this.sinkFailed = true
        throw err
      }
    })
  }

  private async removeRunDir (run: IngestRun): Promise<void> {
    if (this.init.tail || this.init.keepRunFiles) return
    await rm(dirname(run.playlistPath), { recursive: true, force: true })
  }

  /** stop() began, or the stream already ended or failed. */
  private isOver (): boolean {
    return this.stopping !== null || this._state === State.Failed || this._state === State.Ended
  }

  private clearRestartTimer (): void {
    if (this.restartTimer) clearTimeout(this.restartTimer)
    this.restartTimer = null
  }
}

/** ffmpeg's cause is its last stderr line; a spawn failure or a signal when it said nothing. */
function lastLine (exit: FfmpegExit): string {
  if (exit.spawnError) return exit.spawnError.message
  const line = exit.stderrTail.map((l) => l.trim()).filter(Boolean).at(-1)
  return line ?? `exited with ${exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`} and no message`
}
