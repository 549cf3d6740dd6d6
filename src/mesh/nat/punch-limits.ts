// The birthday punch's limits that the command line shows as defaults: their own module, so that
// `cjp2p-stream --help` does not load the punch (and the transport) to print them.

/** Probes the easy side sends per punch, unless the node says otherwise (--punch-probes). */
export const DEFAULT_PUNCH_PROBES = 1024
/** Probes and sockets a node spends per minute at most, however many introductions it gets. */
export const SPENT_PER_MINUTE = 2 * DEFAULT_PUNCH_PROBES
