import { execFileSync } from 'child_process';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { version, cryptoBackend, LIBSSH2_VERSION } from '../lib';
import { native } from '../lib/native';

const addonPath = path.join(__dirname, '..', 'build', 'Release', 'node_libssh2.node');

describe('the addon', () => {
  it('loads in the main thread and reports libssh2_version', () => {
    expect(version()).toBe(LIBSSH2_VERSION);
    expect(version()).toBe('1.11.1');
  });

  it("uses OpenSSL, and it is the running Node's own", () => {
    const backend = cryptoBackend();
    expect(backend.engine).toBe('openssl');
    expect(backend.library).toContain(`OpenSSL ${process.versions.openssl}`);
  });

  it('loads in worker_threads Workers (context-aware), several at once', async () => {
    const code = `
      const { parentPort } = require('worker_threads');
      const addon = require(${JSON.stringify(addonPath)});
      class E extends Error { constructor(errno, fn, msg) { super(msg); this.errno = errno; this.fn = fn; } }
      addon.setErrorFactory((errno, fn, msg) => new E(errno, fn, msg));
      const err = addon.makeError(-9, 'libssh2_channel_read_ex');
      parentPort.postMessage({ version: addon.version(), engine: addon.cryptoBackend().engine,
        errno: err.errno, fn: err.fn, isE: err instanceof E });`;
    const runOne = () => new Promise<Record<string, unknown>>((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.once('message', (m) => { resolve(m); void w.terminate(); });
      w.once('error', reject);
    });
    const results = await Promise.all([runOne(), runOne(), runOne()]);
    for (const r of results) {
      expect(r).toEqual({ version: '1.11.1', engine: 'openssl', errno: -9, fn: 'libssh2_channel_read_ex', isE: true });
    }
    // The main thread's error factory is untouched by the Workers' own.
    expect(native.makeError(-9).constructor.name).toBe('TimeoutError');
  });

  it('links no libcrypto, libssl or libz: those symbols come from node', () => {
    const ldd = execFileSync('ldd', [addonPath], { encoding: 'utf8' });
    expect(ldd).not.toMatch(/libcrypto|libssl|libz\b|libz\.so/);
    const undefinedSyms = execFileSync('nm', ['-D', '--undefined-only', addonPath], { encoding: 'utf8' });
    expect(undefinedSyms).toMatch(/\bEVP_CIPHER_CTX_new\b/);
    expect(undefinedSyms).toMatch(/\binflate\b/);
    // libssh2's own symbols stay private to the addon.
    const defined = execFileSync('nm', ['-D', '--defined-only', addonPath], { encoding: 'utf8' });
    expect(defined).not.toMatch(/\blibssh2_session_init_ex\b/);
  });
});
