// Typed errors of a file download. Callers (the CLI, tests) match on `code`, never on the message.
import { CodedError } from '../util/coded-error.ts'

export type TransferErrorCode =
  | 'ERR_HASH_MISMATCH' // every block arrived but the whole file's SHA-256 is not its id
  | 'ERR_STALLED' // no block arrived for the stall timeout (no peer has it, or all went away)
  | 'ERR_ABORTED' // the caller's AbortSignal fired
  | 'ERR_BUSY' // this node is already downloading that id
  | 'ERR_BAD_ID' // not a file id (a path, a stream id, empty)
  | 'ERR_SIZE' // peers claimed a size the store refuses (over its cap, or conflicting)
  | 'ERR_STORE' // the local store failed (disk full, I/O): see `cause`

export class TransferError extends CodedError<TransferErrorCode> {}

export function isTransferError(err: unknown, code?: TransferErrorCode): err is TransferError {
  return err instanceof TransferError && (code === undefined || err.code === code)
}
