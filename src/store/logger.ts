// The logging the store needs: warnings about on-disk state it had to distrust. Injected, so
// tests stay quiet and the CLI decides where warnings go.
import type { Logger } from '../util/logger.ts'

export type StoreLogger = Pick<Logger, 'warn'>
export { silentLogger } from '../util/logger.ts'
