// A tiny leveled logger on stderr (data goes to stdout). Injected everywhere, so tests pass a silent one.
export type Level = 'debug' | 'info' | 'warn' | 'error'
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  child(name: string): Logger
}

const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export function createLogger(opts: { level?: Level; name?: string; write?: (line: string) => void } = {}): Logger {
  const min = ORDER[opts.level ?? 'info']
  const write = opts.write ?? ((line: string) => process.stderr.write(line + '\n'))
  const emit = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return
    const extra = fields && Object.keys(fields).length ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${fmt(v)}`).join(' ') : ''
    write(`${level === 'info' ? '' : level + ': '}${opts.name ? `[${opts.name}] ` : ''}${msg}${extra}`)
  }
  return {
    debug: (m, f) => emit('debug', m, f), info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f), error: (m, f) => emit('error', m, f),
    child: (name) => createLogger({ ...opts, name: opts.name ? `${opts.name}/${name}` : name }),
  }
}

function fmt(v: unknown): string {
  if (v instanceof Error) return JSON.stringify(v.message)
  if (typeof v === 'string') return /\s/.test(v) ? JSON.stringify(v) : v
  return JSON.stringify(v) ?? String(v)
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silentLogger }
