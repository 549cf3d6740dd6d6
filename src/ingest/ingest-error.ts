// Typed errors for the ingest folder: callers (the CLI, tests) match on `code`, never on message text.
import { CodedError } from '../util/coded-error.ts'

export type IngestErrorCode =
  | 'ERR_NO_FFMPEG'          // no working ffmpeg binary could be found
  | 'ERR_NO_FFPROBE'         // no working ffprobe binary could be found
  | 'ERR_BAD_INPUT'          // the input spec or an option is invalid
  | 'ERR_FFMPEG_FAILED'      // ffmpeg kept failing fast; the restart policy gave up
  | 'ERR_FILE_TRUNCATED'     // a followed file shrank under us: its bytes can no longer be trusted
  | 'ERR_BAD_PLAYLIST'       // the byte-range playlist is inconsistent with what was already ingested
  | 'ERR_STATE'              // a method was called in a state that does not allow it

export class IngestError extends CodedError<IngestErrorCode> {}
