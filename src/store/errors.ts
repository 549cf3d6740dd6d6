// Typed store errors. Callers (mesh, player, cli, tests) match on `code`, never on the message.
import { CodedError } from '../util/coded-error.ts'

export type StoreErrorCode =
  | 'ERR_NOT_VERIFIED' // read of a byte that has not matched its signed hashes
  | 'ERR_BAD_ID' // malformed stream id, file id or stream name
  | 'ERR_BAD_RECORD' // a record or argument that fails sanity checks
  | 'ERR_HASH_MISMATCH' // bytes that do not match their expected hash
  | 'ERR_DISK_FULL' // ENOSPC / EDQUOT from the file system
  | 'ERR_CORRUPT' // an on-disk file we cannot trust (key file, sidecar)
  | 'ERR_NOT_FOUND' // no such file or stream
  | 'ERR_CLOSED' // use after close()
  | 'ERR_ENDED' // append to a stream that has ended
  | 'ERR_SIZE' // size unknown, conflicting or over a cap
  | 'ERR_EXISTS' // the file is already complete in shared/
  | 'ERR_IO' // any other local file-system failure

export class StoreError extends CodedError<StoreErrorCode> {}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code)
}

/** The errno code of a Node fs error, or undefined. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code
  return undefined
}

/** Turns a file-system failure into a StoreError: a full disk gets its own code because it is the
 * one local fault an operator can fix without reading a stack trace. */
export function fsError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err
  const code = errnoCode(err)
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StoreError('ERR_DISK_FULL', `disk full while ${what}`, { cause: err })
  if (code === 'ENOENT') return new StoreError('ERR_NOT_FOUND', `not found while ${what}`, { cause: err })
  const detail = err instanceof Error ? err.message : String(err)
  return new StoreError('ERR_IO', `${what}: ${detail}`, { cause: err })
}
