// Types for the calls of sodium-native (holepunchto, untyped) this project makes: sealed-frame.ts's
// ChaCha20-Poly1305 as RFC 8439 defines it (libsodium's own AEAD), ciphertext then tag, written
// into a buffer the caller sized, decryption throwing when the tag does not verify; and
// store/keys.ts's Ed25519 check of a detached signature (true or false; throws on wrong lengths).
declare module 'sodium-native' {
  export function crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number
  export function crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number
  export function crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean
}
