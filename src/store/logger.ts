// The logging the store needs: warnings about on-disk state it had to distrust. Injected, so
// tests stay quiet and the CLI decides where warnings go.
export interface StoreLogger {
  warn(message: string, fields?: Record<string, unknown>): void
}

export const silentLogger: StoreLogger = { warn() {} }
