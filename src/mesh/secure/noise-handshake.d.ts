// Types for the parts of noise-handshake (holepunchto, CommonJS, untyped) that secure/ uses.
declare module 'noise-handshake' {
  interface KeyPair { publicKey: Uint8Array; secretKey: Uint8Array }
  class NoiseState {
    constructor(pattern: 'XX', initiator: boolean, staticKeyPair?: KeyPair)
    initialise(prologue: Uint8Array, remoteStatic?: Uint8Array): void
    send(payload?: Uint8Array): Uint8Array
    recv(message: Uint8Array): Uint8Array
    readonly complete: boolean
    /** After completion: the key we send with, the key we receive with, the remote static key. */
    readonly tx: Uint8Array
    readonly rx: Uint8Array
    readonly rs: Uint8Array
  }
  export default NoiseState
}
declare module 'noise-handshake/dh.js' {
  export function generateKeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array }
}
