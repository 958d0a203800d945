/**
 * The npm package as users get it: `npm pack` (in a copy of the checkout, so the prebuild and
 * dist/ it makes never disturb the build other tests load), then `npm install` of the tarball
 * into fresh directories with no network (`--offline`, an empty cache, a registry nobody
 * listens on) and the two dependencies as local tarballs:
 *   1. with no compiler, make or python on PATH: the prebuild must be used;
 *   2. with `LIBSSH2_BUILD_FROM_SOURCE=1`: built from the libssh2 source the package ships;
 *   3. a tarball without prebuilds/ (no prebuild matches): built from that source unasked.
 * Each install then runs a smoke test against the fixture sshd through `require('libssh2')`
 * and `import { Session } from 'libssh2'`, and TypeScript checks both import styles against
 * the shipped declarations.
 */
import { spawnSync, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { fixture } from './fixtures';

const root = path.join(__dirname, '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
};
const npmCli = fs.realpathSync(
  spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim() || '/usr/lib/node_modules/npm/bin/npm-cli.js',
);
let work = '';

/**
 * The environment without npm's per-run variables (jest may run under `npm test`), the addon
 * override and sanitizer settings: what a user's shell has.
 */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^(npm_|LIBSSH2_|ASAN_|UBSAN_|LD_PRELOAD$)/i.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.status !== 0) {
    throw new Error(`${path.basename(cmd)} ${args.join(' ')} in ${cwd} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

function npm(args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs = 120_000): SpawnSyncReturns<string> {
  return run(process.execPath, [npmCli, ...args], cwd, env, timeoutMs);
}

/** A copy of the checkout without build output, node_modules linked to the checkout's. */
function copyCheckout(dest: string): void {
  const skip = new Set(['node_modules', 'build', 'dist', 'prebuilds', '.git', 'coverage', 'LICENSE.libssh2', 'docs',
    'bench/results', 'deps/.cache'].map((p) => path.join(root, p)));
  fs.cpSync(root, dest, {
    recursive: true,
    filter: (src) => !skip.has(src) && !(path.dirname(src) === root && /^build-|\.tgz$/.test(path.basename(src))),
  });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(dest, 'node_modules'));
}

/** A directory holding only `node` and `sh` (npm runs scripts with it): PATH for an install that must not compile. */
function nodeOnlyBin(): string {
  const bin = path.join(work, 'bin-node-only');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  fs.symlinkSync(fs.realpathSync('/bin/sh'), path.join(bin, 'sh'));
  return bin;
}

/** Installs the tarballs into a fresh project directory; returns its path and npm's output. */
function installInto(name: string, tarballs: string[], env: NodeJS.ProcessEnv): { dir: string; log: string } {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, allowScripts: { [pkg.name]: true } }) + '\n');
  const r = npm(
    ['install', '--offline', '--no-audit', '--no-fund', '--foreground-scripts', `--cache=${path.join(work, `cache-${name}`)}`,
      '--registry=http://127.0.0.1:9/', ...tarballs],
    dir, env, 360_000, // builds from source in two tests: slow on a loaded machine
  );
  return { dir, log: r.stdout + r.stderr };
}

const SMOKE_CJS = `'use strict';
const net = require('net');
const { once } = require('events');
const libssh2 = require('libssh2');
const [host, port, user, key] = process.argv.slice(2);
(async () => {
  const sock = net.connect(Number(port), host);
  await once(sock, 'connect');
  const session = new libssh2.Session();
  await session.handshake(sock);
  const fingerprint = session.hostkeyHash(libssh2.LIBSSH2_HOSTKEY_HASH_SHA256).length;
  await session.userauthPublickeyFromfile(user, key);
  const channel = await session.openSession();
  await channel.exec('echo cjs-$((6*7))');
  let out = '';
  for (let b = await channel.read(); b.length; b = await channel.read()) out += b.toString();
  await channel.close();
  const status = channel.getExitStatus();
  await session.close();
  console.log(JSON.stringify({ out, status, fingerprint, version: libssh2.version(),
    resolved: require.resolve('libssh2'), isError: new libssh2.AuthenticationFailedError() instanceof libssh2.Libssh2Error }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

const SMOKE_ESM = `import * as net from 'node:net';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import libssh2Default, { Session, connect, version, LIBSSH2_ERROR_EAGAIN } from 'libssh2';
const [host, port, user, key, password] = process.argv.slice(2);
const sock = net.connect(Number(port), host);
await once(sock, 'connect');
const session = new Session();
await session.handshake(sock);
if (password) await session.userauthPassword(user, password);
else await session.userauthPublickeyFromfile(user, key);
const channel = await session.openSession();
await channel.exec('echo esm-$((6*7))');
let out = '';
for (let b = await channel.read(); b.length; b = await channel.read()) out += b.toString();
await channel.close();
const status = channel.getExitStatus();
await session.close();
// The Node-native layer too, and one module instance for import and require.
const s2 = await connect({ host, port: Number(port), username: user, privateKey: key, knownHosts: '/dev/null', hostVerifier: () => true });
const r2 = await s2.exec('echo native');
await s2.close();
const cjs = createRequire(import.meta.url)('libssh2');
console.log(JSON.stringify({ out, status, native: r2.stdout.toString(), version: version(), eagain: LIBSSH2_ERROR_EAGAIN,
  sameModule: cjs.Session === Session && libssh2Default.Session === Session, password: !!password }));
`;

// Type checks of both import styles against the shipped declarations (module node16).
const TYPES_MTS = `import { Session, connect, LIBSSH2_ERROR_EAGAIN, type ExecResult } from 'libssh2';
const s: Session = new Session();
const n: number = LIBSSH2_ERROR_EAGAIN;
const f: (o: Parameters<typeof connect>[0]) => Promise<Session> = connect;
export type T = ExecResult;
export { s, n, f };
`;
const TYPES_CTS = `import libssh2 = require('libssh2');
const s: libssh2.Session = new libssh2.Session();
const v: string = libssh2.version();
export = { s, v };
`;

function smoke(dir: string): void {
  const f = fixture();
  const args = [f.host, String(f.port), f.user, f.keys.ed25519.private];
  fs.writeFileSync(path.join(dir, 'smoke.cjs'), SMOKE_CJS);
  fs.writeFileSync(path.join(dir, 'smoke.mjs'), SMOKE_ESM);
  const env = cleanEnv();
  const cjs = JSON.parse(run(process.execPath, ['smoke.cjs', ...args], dir, env, 60_000).stdout);
  expect(cjs).toEqual({
    out: 'cjs-42\n', status: 0, fingerprint: 32, version: '1.11.1',
    resolved: path.join(fs.realpathSync(dir), 'node_modules', 'libssh2', 'dist', 'index.js'), isError: true,
  });
  const esm = JSON.parse(run(process.execPath, ['smoke.mjs', ...args, f.password ?? ''], dir, env, 60_000).stdout);
  expect(esm).toEqual({
    out: 'esm-42\n', status: 0, native: 'native\n', version: '1.11.1', eagain: -37, sameModule: true, password: !!f.password,
  });

  fs.writeFileSync(path.join(dir, 'types.mts'), TYPES_MTS);
  fs.writeFileSync(path.join(dir, 'types.cts'), TYPES_CTS);
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'node16', '--moduleResolution', 'node16', '--target', 'es2022',
    '--types', 'node', '--typeRoots', path.join(root, 'node_modules', '@types'), 'types.mts', 'types.cts'], dir, env, 60_000);
}

// The ASan run (scripts/test-asan.js) checks the sanitized addon; the package holds the plain one.
const describeUnlessAsan = process.env.LIBSSH2_ASAN ? describe.skip : describe;

describeUnlessAsan('the npm package', () => {
  let tarballs: string[];
  let packed: { files: { path: string }[] };

  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-package-'));
    const copy = path.join(work, 'checkout');
    copyCheckout(copy);
    const r = npm(['pack', '--json', `--pack-destination=${work}`], copy, cleanEnv(), 480_000); // builds libssh2: slow on a loaded machine
    packed = JSON.parse(r.stdout)[0];
    tarballs = [path.join(work, `${pkg.name}-${pkg.version}.tgz`)];
    for (const dep of Object.keys(pkg.dependencies)) {
      const d = JSON.parse(npm(['pack', '--json', '--ignore-scripts', `--pack-destination=${work}`, path.join(root, 'node_modules', dep)], work, cleanEnv()).stdout)[0];
      tarballs.push(path.join(work, d.filename));
    }
  }, 600_000);

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('ships the prebuild, dist for require and import, the patched libssh2 source and both licenses, never the fetch script', () => {
    const files = packed.files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining([
      `prebuilds/${process.platform}-${process.arch}/libssh2.glibc.node`,
      'dist/index.js', 'dist/index.d.ts', 'dist/esm/index.mjs', 'dist/esm/index.d.mts',
      'deps/libssh2/.libssh2-stamp.json', 'deps/libssh2/include/libssh2.h', 'deps/libssh2/src/session.c',
      'binding.gyp', 'binding/session.cc', 'scripts/install.js', 'LICENSE', 'LICENSE.libssh2', 'CHANGELOG.md', 'README.md',
    ]));
    expect(files.filter((f) => /^(deps\/fetch\.js|deps\/\.cache|test\/|lib\/|build\/)|\.map$/.test(f))).toEqual([]);
    const license = fs.readFileSync(path.join(work, 'checkout', 'LICENSE.libssh2'), 'utf8');
    expect(license).toContain('Redistribution and use in source and binary forms');
  });

  it('installs offline with no compiler on PATH (the prebuild) and works through require and import', () => {
    const bin = nodeOnlyBin();
    for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'python3']) {
      expect(spawnSync('sh', ['-c', `command -v ${tool}`], { env: { PATH: bin } }).status).not.toBe(0);
    }
    const { dir, log } = installInto('app-prebuild', tarballs, cleanEnv({ PATH: bin }));
    expect(log).toContain('libssh2 install: using the prebuilt prebuilds/');
    const installed = path.join(dir, 'node_modules', 'libssh2');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    smoke(dir);
  }, 240_000);

  it('builds from the shipped libssh2 source when asked (LIBSSH2_BUILD_FROM_SOURCE=1), offline', () => {
    const { dir, log } = installInto('app-source', tarballs, cleanEnv({ LIBSSH2_BUILD_FROM_SOURCE: '1' }));
    expect(log).not.toContain('libssh2 fetch');
    const installed = path.join(dir, 'node_modules', 'libssh2');
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'node_libssh2.node'))).toBe(true);
    smoke(dir);
  }, 420_000);

  it('a tarball without prebuilds/: no prebuild matches, so install builds from the shipped source, offline', () => {
    // The package as it would reach a platform with no prebuild: the same tarball, prebuilds/ removed.
    const unpacked = path.join(work, 'unpacked');
    fs.mkdirSync(unpacked);
    run('tar', ['-xzf', tarballs[0], '-C', unpacked], work, cleanEnv(), 60_000);
    expect(fs.existsSync(path.join(unpacked, 'package', 'prebuilds'))).toBe(true);
    fs.rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true });
    const noPrebuild = path.join(work, `${pkg.name}-${pkg.version}-noprebuild.tgz`);
    run('tar', ['-czf', noPrebuild, '-C', unpacked, 'package'], work, cleanEnv(), 60_000);
    const { dir, log } = installInto('app-noprebuild', [noPrebuild, ...tarballs.slice(1)], cleanEnv());
    expect(log).toContain('libssh2 install: no usable prebuild for this platform: building from the shipped libssh2 source');
    expect(log).not.toContain('using the prebuilt');
    expect(log).not.toContain('libssh2 fetch');
    const installed = path.join(dir, 'node_modules', 'libssh2');
    expect(fs.existsSync(path.join(installed, 'prebuilds'))).toBe(false);
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'node_libssh2.node'))).toBe(true);
    smoke(dir);
  }, 420_000);
});
