// @ts-check
// Suite 2 of the envelope (PROTOCOL.md "Suite 2: X-Wing"): a message's
// 32-byte content key sealed to one device with HPKE base mode, KEM X-Wing
// (ML-KEM-768 + X25519), HKDF-SHA256 and AES-256-GCM, with the same info
// binding as suite 1 (crypto.keyInfo). Byte for byte what package e2ee's
// SealKeyXWing and OpenKeyXWing do (e2ee/xwing.go).
//
// crypto.sealEnvelope seals with suite 2 when every recipient device lists
// an X-Wing key, and crypto.openEnvelope opens it. Seeds, not
// DeriveKeyPair output, are what cross between implementations: an X-Wing
// private key is a 32-byte seed, expanded alike everywhere, while HPKE's
// DeriveKeyPair differs between the Go and the browser library.
//
// Unlike the suite-1 keys, an X-Wing private key cannot be a
// non-extractable WebCrypto key: WebCrypto has no ML-KEM, so the vendored
// pure-JS X-Wing holds the seed in memory while the key is in use.
import { XWing } from "../vendor/hpke-hybridkem-x-wing@0.7.0/esm/mod.js";
import { Aes256Gcm, CipherSuite, HkdfSha256 } from "../vendor/hpke-core@1.9.0/esm/mod.js";
import { concat, randomBytes } from "./bytes.js";
import { XWING_ENC_BYTES, XWING_PUBLIC_KEY_BYTES, XWING_SEALED_KEY_BYTES, XWING_SEED_BYTES } from "./constants.js";
import { CryptoError, keyInfo } from "./crypto.js";

export { XWING_ENC_BYTES, XWING_PUBLIC_KEY_BYTES, XWING_SEALED_KEY_BYTES, XWING_SEED_BYTES };

const kem = new XWing();
const suite = new CipherSuite({ kem, kdf: new HkdfSha256(), aead: new Aes256Gcm() });

/** A fresh copy in its own ArrayBuffer: the library reads key.buffer whole. */
const own = (/** @type {Uint8Array} */ b) => new Uint8Array(b);

/** generateXWingSeed returns a new suite-2 private key: 32 random bytes. */
export function generateXWingSeed() {
  return randomBytes(XWING_SEED_BYTES);
}

/**
 * xwingPublicKey expands a seed into its X-Wing public key (1,216 bytes):
 * what e2ee.XWingKey.PublicKey returns for the same seed.
 * @param {Uint8Array} seed
 */
export async function xwingPublicKey(seed) {
  if (seed.length !== XWING_SEED_BYTES) throw new Error(`an X-Wing seed is ${XWING_SEED_BYTES} bytes, not ${seed.length}`);
  const pair = await kem.generateKeyPairDerand(own(seed));
  return new Uint8Array(await kem.serializePublicKey(pair.publicKey));
}

/**
 * importXWingPublic checks and imports a recipient device's X-Wing public
 * key once, for sealKeyXWing.
 * @param {Uint8Array} pub
 */
export async function importXWingPublic(pub) {
  if (pub.length !== XWING_PUBLIC_KEY_BYTES) throw new Error(`an X-Wing public key is ${XWING_PUBLIC_KEY_BYTES} bytes, not ${pub.length}`);
  return kem.deserializePublicKey(own(pub));
}

/**
 * importXWingPrivate imports a device's seed for openKeyXWing.
 * @param {Uint8Array} seed
 */
export async function importXWingPrivate(seed) {
  if (seed.length !== XWING_SEED_BYTES) throw new Error(`an X-Wing seed is ${XWING_SEED_BYTES} bytes, not ${seed.length}`);
  return kem.deserializePrivateKey(own(seed));
}

/**
 * sealKeyXWing seals the 32-byte content key K to one device for message
 * msgId: enc (1,120 bytes) || AES-256-GCM(K) with its tag (48 bytes).
 * @param {CryptoKey} pub from importXWingPublic
 * @param {string} msgId
 * @param {number} device
 * @param {Uint8Array} K
 */
export async function sealKeyXWing(pub, msgId, device, K) {
  if (K.length !== 32) throw new Error(`a content key is 32 bytes, not ${K.length}`);
  const res = await suite.seal({ recipientPublicKey: pub, info: keyInfo(msgId, device) }, K);
  const out = concat(new Uint8Array(res.enc), new Uint8Array(res.ct));
  // The protocol fixes this size; a library change must not slip by.
  if (out.length !== XWING_SEALED_KEY_BYTES) throw new Error(`X-Wing seal is ${out.length} bytes; the protocol fixes ${XWING_SEALED_KEY_BYTES}`);
  return out;
}

/**
 * openKeyXWing opens a content key sealed by sealKeyXWing (or Go's
 * e2ee.SealKeyXWing) for message msgId and this device. Any failure,
 * including a wrong size, throws CryptoError "decrypt".
 * @param {CryptoKey} priv from importXWingPrivate
 * @param {string} msgId
 * @param {number} device
 * @param {Uint8Array} sealed
 */
export async function openKeyXWing(priv, msgId, device, sealed) {
  if (sealed.length !== XWING_SEALED_KEY_BYTES) {
    throw new CryptoError("decrypt", `an X-Wing sealed key is ${XWING_SEALED_KEY_BYTES} bytes, not ${sealed.length}`);
  }
  let K;
  try {
    K = new Uint8Array(await suite.open(
      { recipientKey: priv, enc: sealed.slice(0, XWING_ENC_BYTES), info: keyInfo(msgId, device) }, sealed.slice(XWING_ENC_BYTES)));
  } catch {
    throw new CryptoError("decrypt", `message ${msgId}: the X-Wing sealed key does not open`);
  }
  if (K.length !== 32) {
    K.fill(0);
    throw new CryptoError("decrypt", `message ${msgId}: the content key is ${K.length} bytes`);
  }
  return K;
}
