// Types for the two calls of sodium-native (holepunchto, untyped; libsodium's own AEAD) that
// sealed-frame.ts uses: ChaCha20-Poly1305 as RFC 8439 defines it, ciphertext then tag, written
// into a buffer the caller sized. Decryption throws when the tag does not verify.
declare module 'sodium-native' {
  export function crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number
  export function crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number
}
