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

/** A progress line: redrawn in place on a terminal, one plain line every few seconds otherwise. */
export class ProgressLine {
  private lastPlain = 0
  constructor(private out: NodeJS.WriteStream = process.stderr) {}
  update(text: string, bar?: number): void {
    if (this.out.isTTY) {
      const width = 24
      const filled = bar === undefined ? '' : `[${'#'.repeat(Math.round(bar * width)).padEnd(width, '.')}] `
      this.out.write(`\r\x1b[K${filled}${text}`)
    } else if (Date.now() - this.lastPlain > 2000) {
      this.lastPlain = Date.now()
      this.out.write(text + '\n')
    }
  }
  done(): void { if (this.out.isTTY) this.out.write('\n') }
}
