// Human output: sizes, rates, one-line progress.
export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}

export function bitrate(bytesPerSecond: number): string {
  const bps = bytesPerSecond * 8
  return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${(bps / 1e3).toFixed(0)} kb/s`
}

export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`
}

/** A status line: redrawn in place on a terminal (log lines go above it, never through it), a
 * plain line at most every `plainEveryMs` otherwise, so logs and pipes stay readable. */
export class ProgressLine {
  private lastPlain = 0
  private shown = ''

  constructor(private readonly out: NodeJS.WriteStream = process.stderr, private readonly plainEveryMs = 2000) {}

  get isTTY(): boolean { return Boolean(this.out.isTTY) }

  update(text: string, bar?: number): void {
    if (this.isTTY) {
      const width = 24
      const filled = bar === undefined ? '' : `[${'#'.repeat(Math.round(bar * width)).padEnd(width, '.')}] `
      // Wider than the terminal would wrap, and \r only returns to the start of the last row.
      this.shown = `${filled}${text}`.slice(0, Math.max(20, (this.out.columns || 80) - 1))
      this.out.write(`\r\x1b[K${this.shown}`)
    } else if (Date.now() - this.lastPlain >= this.plainEveryMs * 0.9) {
      this.lastPlain = Date.now()
      this.out.write(text + '\n')
    }
  }

  /** Writes a log line above the status line. */
  log(line: string): void {
    if (this.isTTY && this.shown) this.out.write(`\r\x1b[K${line}\n${this.shown}`)
    else this.out.write(line + '\n')
  }

  /** Leaves the last status on screen and moves below it. Idempotent. */
  done(): void {
    if (this.isTTY && this.shown) this.out.write('\n')
    this.shown = ''
  }
}
