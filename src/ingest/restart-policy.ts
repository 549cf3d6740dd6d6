// When to restart a crashed ffmpeg, kept as data so tests and the CLI can tune it. Backoff doubles
// from initialDelayMs up to maxDelayMs while runs keep dying young; a run that lived fastFailureMs
// or longer counts as healthy and resets the count. After maxFastFailures young deaths in a row
// we give up: a missing camera or a bad URL will not fix itself, and the user should hear so.

export interface RestartPolicy {
  initialDelayMs: number
  maxDelayMs: number
  fastFailureMs: number
  maxFastFailures: number
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = {
  initialDelayMs: 1_000,
  maxDelayMs: 10_000,
  fastFailureMs: 10_000,
  maxFastFailures: 5,
}

export type RestartDecision =
  | { action: 'restart'; delayMs: number; fastFailures: number }
  | { action: 'give-up'; fastFailures: number }

/** Pure: given how many young deaths preceded this one and how long this run lived. */
export function decideRestart (policy: RestartPolicy, fastFailuresBefore: number, runLifetimeMs: number): RestartDecision {
  const fastFailures = runLifetimeMs < policy.fastFailureMs ? fastFailuresBefore + 1 : 1
  if (runLifetimeMs < policy.fastFailureMs && fastFailures >= policy.maxFastFailures) return { action: 'give-up', fastFailures }
  const delayMs = Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** (fastFailures - 1))
  return { action: 'restart', delayMs, fastFailures }
}
