// A bound address as another process on this machine can reach it: a wildcard bind (0.0.0.0 or
// [::]) answers on loopback, so that is what we print and label nodes with.

/** `host:port` with a wildcard host replaced by the matching loopback address. */
export function reachable(addr: string): string {
  return addr.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:')
}
