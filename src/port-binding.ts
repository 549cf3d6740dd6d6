// Binding a node's ports. A default port that another node on this machine already holds is not
// an error (two nodes in two folders is the README's own flow): we take any free port and the
// caller prints the one actually served. A port the user named is theirs to fix.
import { CodedError } from './util/coded-error.ts'
import { errnoCode } from './store/errors.ts'

export type PortKind = 'udp' | 'http'

export class PortInUseError extends CodedError<'ERR_PORT_IN_USE' | 'ERR_PORT_DENIED'> {
  constructor(readonly kind: PortKind, readonly port: number, denied: boolean, cause: unknown) {
    super(denied ? 'ERR_PORT_DENIED' : 'ERR_PORT_IN_USE',
      denied ? `${kind} port ${port} needs privileges this process lacks` : `${kind} port ${port} is in use`, { cause })
  }
}

/** Binds `port`; when it is taken and `fallback` says the port was only a default, binds port 0. */
export async function bindPort<T>(kind: PortKind, port: number, fallback: boolean, bind: (port: number) => Promise<T>,
  onFallback: (port: number) => void = () => {}): Promise<T> {
  try {
    return await bind(port)
  } catch (err) {
    const code = errnoCode(err)
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err
    if (!fallback || port === 0) throw new PortInUseError(kind, port, code === 'EACCES', err)
    onFallback(port)
    return bind(0)
  }
}
