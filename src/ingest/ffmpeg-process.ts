// One ffmpeg child process. fluent-ffmpeg (the user's choice) is used only here, so swapping it for
// a plain spawn touches one file. Emits 'exit' exactly once with how it ended and the last stderr
// lines (ffmpeg's real error is usually in the last few). Restarting is the caller's job.

import { EventEmitter } from 'node:events'
import type { ChildProcess } from 'node:child_process'
import ffmpeg from 'fluent-ffmpeg'
import type { FfmpegArgs } from './ffmpeg-args.ts'
import type { IngestLogger } from './ingest-components.ts'

export interface FfmpegExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** True when we asked it to stop (stop()/close()), so a non-zero code is not a crash. */
  requested: boolean
  /** Set when the process could not be started at all (e.g. ENOENT). */
  spawnError: Error | null
  stderrTail: string[]
}

export interface FfmpegProcessInit {
  ffmpegPath: string
  args: FfmpegArgs
  cwd?: string
  /** Stderr lines kept for error messages; ffmpeg's cause is in the last few, the rest is noise. */
  stderrLines?: number
}

const DEFAULT_STDERR_LINES = 40
/** ffmpeg finalises the playlist (#EXT-X-ENDLIST) in well under a second; a wedged device may never answer SIGINT. */
export const DEFAULT_STOP_TIMEOUT_MS = 5_000

export class FfmpegProcess extends EventEmitter {
  private readonly logger: IngestLogger
  private readonly stderrLines: string[] = []
  private readonly maxStderrLines: number
  private child: ChildProcess | null = null
  private exitInfo: FfmpegExit | null = null
  private stopRequested = false
  private stopping: Promise<FfmpegExit> | null = null
  private readonly exited: Promise<FfmpegExit>
  private readonly started: Promise<void>
  private markStarted: () => void = () => {}

  constructor (components: { logger: IngestLogger }, init: FfmpegProcessInit) {
    super()
    this.logger = components.logger
    this.maxStderrLines = init.stderrLines ?? DEFAULT_STDERR_LINES
    this.exited = new Promise((resolve) => this.once('exit', resolve))
    this.started = new Promise((resolve) => { this.markStarted = resolve })

    const command = ffmpeg({ cwd: init.cwd, stdoutLines: this.maxStderrLines })
    patchFluent(command as unknown as FluentInternals, init.ffmpegPath)
    for (const input of init.args.inputs) {
      command.input(input.source)
      addOptions(input.options, (...o) => command.inputOptions(...o))
    }
    command.output(init.args.output.target)
    addOptions(init.args.output.options, (...o) => command.outputOptions(...o))

    command.on('start', (line: string) => {
      this.child = (command as unknown as { ffmpegProc?: ChildProcess }).ffmpegProc ?? null
      this.logger.debug(`ffmpeg start pid=${this.child?.pid}: ${line}`)
      this.markStarted()
    })
    command.on('stderr', (line: string) => {
      this.stderrLines.push(line)
      if (this.stderrLines.length > this.maxStderrLines) this.stderrLines.shift()
      this.logger.debug(`ffmpeg: ${line}`)
    })
    // fluent-ffmpeg reports any non-zero exit or signal as 'error' and a clean one as 'end', both
    // after stderr closed, so the tail is complete when we report.
    // A child without a pid never ran (ENOENT, EACCES): that error is the whole story.
    command.on('error', (err: Error) => this.finish(this.child?.pid === undefined ? err : null))
    command.on('end', () => this.finish(null))
    command.run()
  }

  get pid (): number | null {
    return this.child?.pid ?? null
  }

  get running (): boolean {
    return this.exitInfo === null
  }

  /** Resolves once ffmpeg exited, however. */
  wait (): Promise<FfmpegExit> {
    return this.exited
  }

  stderrTail (): string[] {
    return [...this.stderrLines]
  }

  /** Sends a signal without marking the exit as requested (tests simulate crashes with it). */
  signalProcess (signal: NodeJS.Signals): void {
    if (this.exitInfo === null) this.child?.kill(signal)
  }

  /** SIGINT (ffmpeg then writes #EXT-X-ENDLIST), SIGKILL if it is still alive after timeoutMs. Idempotent. */
  stop (timeoutMs = DEFAULT_STOP_TIMEOUT_MS): Promise<FfmpegExit> {
    if (this.stopping) return this.stopping
    this.stopRequested = true
    if (this.exitInfo) return (this.stopping = Promise.resolve(this.exitInfo))
    this.stopping = (async () => {
      // Before 'start' there is no child yet: fluent-ffmpeg spawns a few ticks after run().
      await Promise.race([this.started, this.exited])
      this.child?.kill('SIGINT')
      const timer = setTimeout(() => {
        this.logger.warn(`ffmpeg pid=${this.pid} ignored SIGINT for ${timeoutMs} ms: SIGKILL`)
        this.child?.kill('SIGKILL')
      }, timeoutMs)
      timer.unref()
      try {
        return await this.exited
      } finally {
        clearTimeout(timer)
      }
    })()
    return this.stopping
  }

  close (): Promise<FfmpegExit> {
    return this.stop()
  }

  private finish (spawnError: Error | null): void {
    if (this.exitInfo) return
    // Read from the child rather than its 'exit' event: fluent-ffmpeg may report before our listener runs.
    const code = spawnError ? null : this.child?.exitCode ?? null
    const signal = (this.child?.signalCode ?? null) as NodeJS.Signals | null
    this.exitInfo = {
      code,
      signal,
      requested: this.stopRequested,
      spawnError,
      stderrTail: this.stderrTail(),
    }
    this.logger.debug(`ffmpeg exit pid=${this.pid} code=${code} signal=${signal}`)
    this.emit('exit', this.exitInfo)
  }
}

/** fluent-ffmpeg splits a lone "-opt value" string on its space; passing 2+ arguments disables that. */
function addOptions (options: string[], add: (...o: string[]) => void): void {
  if (options.length === 0) return
  if (options.length === 1) {
    if (options[0].includes(' ')) throw new Error(`single ffmpeg option with a space: ${options[0]}`)
    add(options[0])
    return
  }
  add(...options)
}

interface Ring { get (): string }
type EndCallback = (err: Error | null, stdout?: Ring, stderr?: Ring) => void
interface FluentInternals {
  _getFfmpegPath (cb: (err: Error | null, p: string) => void): void
  _spawnFfmpeg (...params: unknown[]): void
}

/**
 * Two fixes to fluent-ffmpeg 2.1.3 (archived, so pinned), on this one command object:
 * - setFfmpegPath() writes a module-wide cache; a per-command path keeps one Ingest's binary out
 *   of another's command.
 * - when spawn itself fails (ENOENT, EACCES) it calls its end callback without output rings and
 *   then throws a TypeError from the child's 'error' handler, crashing the process; give it empty rings.
 */
function patchFluent (command: FluentInternals, ffmpegPath: string): void {
  command._getFfmpegPath = (cb) => cb(null, ffmpegPath)
  const spawnFfmpeg = command._spawnFfmpeg
  const empty: Ring = { get: () => '' }
  command._spawnFfmpeg = function (...params: unknown[]) {
    // Same optional-argument shapes as the original: the end callback is always the last function.
    const last = params.length - 1
    const endCB = params[last] as EndCallback
    params[last] = ((err, stdout, stderr) => endCB(err, stdout ?? empty, stderr ?? empty)) satisfies EndCallback
    ;(spawnFfmpeg as (...p: unknown[]) => void).apply(this, params)
  }
}
