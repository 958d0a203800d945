/**
 * PITFALLS section 8 (GHSA-m9rg-h9jv-9gvh): the server's Diffie-Hellman public value f must satisfy
 * 1 < f < p-1. A server (the `ssh2` package's, with node's DH objects wrapped before ssh2 loads)
 * sends f = 1 and uses the shared secret 1: libssh2 1.11.1 completed that handshake (every session
 * key derived from K = 1); with deps/patches/dh-public-value-check.patch it fails with
 * KeyExchangeFailureError. f = p-1 (K = +-1) is refused the same way.
 */
// The module object itself (not an import-star copy): ssh2 reads its functions from it.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a copy would not reach ssh2
import nodeCrypto = require('node:crypto');
import { KeyExchangeFailureError, LIBSSH2_METHOD_KEX, Session } from '../../lib';
import { tcp } from '../helpers/connect';
import type { ScriptedServer } from '../fixtures/scripted-ssh-server';

type Forced = 'one' | 'p-1' | undefined;
let forced: Forced;

const realGroup = nodeCrypto.createDiffieHellmanGroup;
let server: ScriptedServer;
let port: number;

beforeAll(async () => {
  // ssh2's kex module takes createDiffieHellmanGroup from 'crypto' when it loads: wrap it first.
  (nodeCrypto as { createDiffieHellmanGroup: typeof realGroup }).createDiffieHellmanGroup = (name: string) => {
    const dh = realGroup(name);
    if (!forced) return dh;
    const mode = forced;
    const prime = dh.getPrime();
    const pMinus1 = Buffer.from(prime);
    pMinus1[pMinus1.length - 1] -= 1; // the group primes are odd
    const f = mode === 'one' ? Buffer.from([1]) : pMinus1;
    return Object.assign(Object.create(dh) as nodeCrypto.DiffieHellmanGroup, {
      generateKeys: () => { dh.generateKeys(); return f; },
      getPublicKey: () => f,
      // K = f^y mod p as the client computes it: 1 for f = 1; for p-1 we cannot know y's parity
      computeSecret: () => (mode === 'one' ? Buffer.from([1]) : pMinus1),
    });
  };
  // Loaded only now, after the wrap (it loads ssh2).
  const { startScriptedServer } = await import('../fixtures/scripted-ssh-server');
  server = await startScriptedServer(() => undefined, { algorithms: { kex: ['diffie-hellman-group14-sha256'] } });
  port = server.port;
});

afterAll(async () => {
  (nodeCrypto as { createDiffieHellmanGroup: typeof realGroup }).createDiffieHellmanGroup = realGroup;
  await server?.close();
});

async function handshake(mode: Forced) {
  forced = mode;
  const s = new Session();
  s.setTimeout(15000);
  s.methodPref(LIBSSH2_METHOD_KEX, 'diffie-hellman-group14-sha256');
  try {
    const err = await s.handshake(await tcp('127.0.0.1', port)).then(() => undefined, (e: unknown) => e);
    return { err, closed: s.closed };
  } finally {
    forced = undefined;
    await s.close();
  }
}

describe('the server\'s DH public value', () => {
  it('an honest group14 server completes the handshake (the wrapper is transparent)', async () => {
    const r = await handshake(undefined);
    expect(r.err).toBeUndefined();
  });

  it('f = 1 fails with KeyExchangeFailureError (1.11.1 derived every key from K = 1)', async () => {
    const r = await handshake('one');
    expect(r.err).toBeInstanceOf(KeyExchangeFailureError);
    expect(r.closed).toBe(true);
  });

  it('f = p-1 fails with KeyExchangeFailureError', async () => {
    const r = await handshake('p-1');
    expect(r.err).toBeInstanceOf(KeyExchangeFailureError);
    expect(r.closed).toBe(true);
  });
});
