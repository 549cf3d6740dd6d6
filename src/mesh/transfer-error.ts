// Typed errors of a file download. Callers (the CLI, tests) match on `code`, never on the message.
import { CodedError } from '../util/coded-error.ts'

export type TransferErrorCode =
  | 'ERR_HASH_MISMATCH' // every block arrived but the whole file's SHA-256 (or a BLAKE3 tree) does not match its id
  | 'ERR_STALLED' // no block arrived for the stall timeout (no peer has it, or all went away)
  | 'ERR_ABORTED' // the caller's AbortSignal fired
  | 'ERR_BUSY' // this node is already downloading that id
  | 'ERR_BAD_ID' // not a file id (a path, a stream id, empty)
  | 'ERR_SIZE' // peers claimed a size the store refuses (over its cap, or conflicting)
  | 'ERR_STORE' // the local store failed (disk full, I/O): see `cause`

/** What each peer of a download said, as far as we can tell: nothing at all since we asked
 * ('silent'), something but no block of the file ('lacks': no Content, or only MaybeTheyHaveSome),
 * or blocks ('supplying'). */
export type PeerAnswer = 'silent' | 'lacks' | 'supplying'
export type PeerAnswers = Record<PeerAnswer, string[]>

export class TransferError extends CodedError<TransferErrorCode> {
  /** For ERR_STALLED: each asked peer by what it answered, so a caller can say why. */
  readonly peers?: PeerAnswers
  /** For ERR_HASH_MISMATCH: the peers the bad bytes are proven to have come from (charged). */
  readonly blamed?: string[]
  constructor(code: TransferErrorCode, message: string, options?: { cause?: unknown; peers?: PeerAnswers; blamed?: string[] }) {
    super(code, message, options)
    this.peers = options?.peers
    this.blamed = options?.blamed
  }
}

export function isTransferError(err: unknown, code?: TransferErrorCode): err is TransferError {
  return err instanceof TransferError && (code === undefined || err.code === code)
}
