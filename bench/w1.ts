/**
 * W1 "per-op" (ANCHORS.md), for now as W1-auth: in a warm process, one connection after
 * another: TCP connect + handshake + publickey auth (ed25519 key file) + disconnect + free.
 * The full W1 adds exec `true` + read to EOF + exit status: one more step in `bindingOp()` and
 * in `w1_op()` of bench/c/w1.c once the binding has channels.
 */
import * as net from 'node:net';
import * as path from 'node:path';
import {
  LIBSSH2_METHOD_CRYPT_CS,
  LIBSSH2_METHOD_CRYPT_SC,
  LIBSSH2_METHOD_HOSTKEY,
  LIBSSH2_METHOD_KEX,
  Session,
} from '../lib';
import { runChild, type Batch, type Peer, type Target, type Workload } from './harness';

/** The same algorithms as bench/c/w1.c asks of libssh2. */
const METHODS: [number, string, string][] = [
  [LIBSSH2_METHOD_KEX, 'kex', 'curve25519-sha256'],
  [LIBSSH2_METHOD_HOSTKEY, 'hostkey', 'ssh-ed25519'],
  [LIBSSH2_METHOD_CRYPT_CS, 'crypt_cs', 'aes128-gcm@openssh.com'],
  [LIBSSH2_METHOD_CRYPT_SC, 'crypt_sc', 'aes128-gcm@openssh.com'],
];
/** Bounds every libssh2 call of the binding (the C child is bounded by runChild's timeout). */
const OP_TIMEOUT_MS = 10_000;

/** One W1-auth op with the binding; `inspect` sees the session right after the handshake. */
async function bindingOp(t: Target, inspect?: (s: Session) => void): Promise<void> {
  const sock = net.connect({ host: t.host, port: t.port });
  const session = new Session();
  try {
    session.setTimeout(OP_TIMEOUT_MS);
    for (const [type, , prefs] of METHODS) session.methodPref(type, prefs);
    await session.handshake(sock); // takes the socket's fd over
    inspect?.(session);
    await session.userauthPublickeyFromfile(t.user, t.privkey);
    // Full W1: open a session channel, exec `true`, read to EOF, exit status, close here.
    await session.disconnect();
  } finally {
    sock.destroy();
    await session.free();
  }
}

const binding: Peer = {
  name: 'binding',
  label: 'this binding (async, Promise per call)',
  async run(t, iterations, warmup): Promise<Batch> {
    let methods: Record<string, string> | null = null;
    for (let i = 0; i < warmup; i++) {
      await bindingOp(t, (s) => {
        methods ??= Object.fromEntries(METHODS.map(([type, name]) => [name, s.methods(type) ?? '']));
      });
    }
    const ms: number[] = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) {
      const t0 = performance.now();
      await bindingOp(t);
      ms.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    return { ms, cpuUserMs: cpu.user / 1e3, cpuSysMs: cpu.system / 1e3, methods };
  },
};

const c: Peer = {
  name: 'C',
  label: 'C program on the same libssh2 (blocking, TCP_NODELAY)',
  async run(t, iterations, warmup): Promise<Batch> {
    const exe = path.join(__dirname, 'c', 'build', 'w1');
    const out = await runChild(exe, [t.host, String(t.port), t.user, t.privkey, String(iterations), String(warmup)],
      30_000 + (iterations + warmup) * OP_TIMEOUT_MS);
    const r = JSON.parse(out) as { ms: number[]; cpu_user_ms: number; cpu_sys_ms: number; methods: Record<string, string> | null };
    return { ms: r.ms, cpuUserMs: r.cpu_user_ms, cpuSysMs: r.cpu_sys_ms, methods: r.methods };
  },
};

export const w1: Workload = {
  id: 'W1',
  title: 'W1-auth per-op',
  description: 'connect + handshake + publickey auth (ed25519 key file) + disconnect + free, one connection after another in a warm process',
  reference: c,
  candidate: binding,
};
