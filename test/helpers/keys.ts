/** Key format helpers for tests. */

/** OpenSSH's ed25519 private key format → PKCS#8 DER, for node:crypto. */
export function sshEd25519ToPkcs8(text: string): Buffer {
  const b64 = text.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const raw = Buffer.from(b64, 'base64');
  let off = 'openssh-key-v1\0'.length;
  const str = () => {
    const len = raw.readUInt32BE(off);
    const v = raw.subarray(off + 4, off + 4 + len);
    off += 4 + len;
    return v;
  };
  str(); str(); str(); // cipher, kdf, kdf options
  off += 4; // number of keys
  str(); // public key
  const priv = str();
  let p = 8; // check ints
  const pstr = () => {
    const len = priv.readUInt32BE(p);
    const v = priv.subarray(p + 4, p + 4 + len);
    p += 4 + len;
    return v;
  };
  pstr(); // key type
  pstr(); // public
  const seed = pstr().subarray(0, 32);
  return Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]);
}
