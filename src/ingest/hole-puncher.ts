// Gives back the disk space of a run file's bytes once they are in the stream log. ffmpeg appends
// the stream to ONE growing file per run (ffmpeg-args.ts says why), so without this the source
// holds a second copy of the whole stream for as long as a run lasts (about 0.9 GB an hour at the
// default bitrate), whatever --keep says. Punching a hole (util-linux `fallocate --punch-hole`)
// frees the blocks while ffmpeg goes on writing at its own offset and the file keeps the length
// our tail expects: the file becomes sparse, `du` shows the few MiB not yet punched. Cutting a new
// run file every so often would bound it too, at the cost of a discontinuity per cut. Where the
// tool or the file system cannot punch holes (macOS, some network file systems) the file grows as
// before, and we say so once.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type { IngestLogger } from './ingest-components.ts'

const run = promisify(execFile)

/** Punch once this many consumed bytes piled up: one short process every ~30 s at 2 Mb/s. */
export const PUNCH_EVERY_BYTES = 8 * 1024 * 1024
/** File system block: holes are punched in whole blocks, so no partial block is zeroed. */
const BLOCK = 4096

export interface HolePuncherInit {
  path: string
  everyBytes?: number
  /** The fallocate(1) binary (tests give a missing one). */
  command?: string
}

export class HolePuncher {
  private readonly logger: IngestLogger
  private readonly path: string
  private readonly every: number
  private readonly command: string
  /** Bytes [0, punched) are holes now. */
  private punched = 0
  private consumedTo = 0
  private running: Promise<void> | null = null
  private stopped = false

  constructor (components: { logger: IngestLogger }, init: HolePuncherInit) {
    this.logger = components.logger
    this.path = init.path
    this.every = init.everyBytes ?? PUNCH_EVERY_BYTES
    this.command = init.command ?? 'fallocate'
  }

  /** Bytes at the start of the file given back so far. */
  get freedBytes (): number {
    return this.punched
  }

  /** Bytes [0, upTo) of the file are in the log and will never be read again. */
  consumed (upTo: number): void {
    this.consumedTo = Math.max(this.consumedTo, upTo)
    if (this.running || this.stopped) return
    const to = Math.floor(this.consumedTo / BLOCK) * BLOCK
    if (to - this.punched < this.every) return
    this.running = this.punch(to).finally(() => { this.running = null })
  }

  /** Resolves once a punch under way finished; punches no more. */
  async close (): Promise<void> {
    this.stopped = true
    await this.running
  }

  private async punch (to: number): Promise<void> {
    try {
      await run(this.command, ['--punch-hole', '--offset', String(this.punched), '--length', String(to - this.punched), this.path])
      this.punched = to
    } catch (err) {
      this.stopped = true
      const e = err as NodeJS.ErrnoException & { stderr?: string }
      const why = e.code === 'ENOENT' ? `${this.command} (util-linux) is not installed` : (e.stderr?.trim().split('\n').at(-1) ?? e.message)
      this.logger.info(`cannot free the ingested part of ${this.path} (${why}): it keeps growing until this ffmpeg run ends`)
    }
  }
}
