// Time is injected so the scheduler can run on a virtual clock in the simulator.
export interface Clock { now(): number }
export const systemClock: Clock = { now: () => Date.now() }
