import { CodedError } from '../util/coded-error.ts'

/** Stable codes callers and tests match on. */
export type PlayerErrorCode = 'ERR_PLAYER_CONFIG'

export class PlayerError extends CodedError<PlayerErrorCode> {}
