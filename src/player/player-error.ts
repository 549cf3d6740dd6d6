/** Stable codes callers and tests match on. */
export type PlayerErrorCode = 'ERR_PLAYER_CONFIG'

export class PlayerError extends Error {
  constructor(readonly code: PlayerErrorCode, message: string) {
    super(message)
    this.name = 'PlayerError'
  }
}
