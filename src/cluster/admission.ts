/**
 * Proof that a peer holds the cluster secret, bound to one connection: an HMAC of the Noise
 * handshake hash (identical on both ends) and the sender's role. The role matters: without it
 * a peer could simply echo our own proof back to us.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

export function admissionKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('pdf-cluster admission v1').digest()
}

export function proof(key: Buffer, handshakeHash: Buffer, initiator: boolean): Buffer {
  return createHmac('sha256', key)
    .update(handshakeHash)
    .update(initiator ? 'initiator' : 'responder')
    .digest()
}

/** Checks the remote side's proof: it was made for the opposite role on the same handshake. */
export function verifyProof(
  key: Buffer,
  handshakeHash: Buffer,
  weAreInitiator: boolean,
  given: unknown,
): boolean {
  if (!Buffer.isBuffer(given) && !(given instanceof Uint8Array)) return false
  const expected = proof(key, handshakeHash, !weAreInitiator)
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), expected)
}
