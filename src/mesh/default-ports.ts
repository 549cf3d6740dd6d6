// The protocol's default ports, apart from the message table so that the command line can name
// them without loading the decoders (and their hashing) at start-up.
export const DEFAULT_UDP_PORT = 24254
export const DEFAULT_HTTP_PORT = 24255
