/**
 * An HTTP server (node:http) that runs commands over SSH in non-blocking mode: `GET /?cmd=...`
 * runs `cmd` on one of N sessions connected at start and answers
 * `{ stdout, stderr, code, signal, session }` as JSON. Every libssh2 call is an `…Nb()` attempt
 * that returns at once; waiting is `await session.waitSocket()`, so the event loop never blocks
 * and many requests run at once: their channels share the sessions.
 *
 * One rule shapes the code: a call that returned EAGAIN must be repeated before another call on
 * the same libssh2 state machine. Opening a channel and the exec request use the session's
 * (one per session), so each session serializes that short setup with a lock; reads, closes
 * and frees are per channel and interleave freely.
 *
 *   node -r ./scripts/register-ts.js examples/nonblocking-server.ts 127.0.0.1 user password [sessions] [listenport]
 *   curl 'http://127.0.0.1:<port>/?cmd=uname%20-a'
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Session, type Channel } from '../lib';
import { connectTcp, LIBSSH2_ERROR_EAGAIN, parseArgs, run } from './common';

/** Options of {@link start}. */
export interface NonblockingServerOptions {
  /** SSH server. */
  host: string;
  port?: number;
  username: string;
  /** Private key path (public-key authentication), else `password`. */
  privateKey?: string;
  passphrase?: string;
  password?: string;
  /** How many SSH sessions to connect (default 4). */
  sessions?: number;
  /** HTTP port (default 0: any free one) and address (default 127.0.0.1). */
  listenPort?: number;
  listenHost?: string;
  /** Longest a command may stay silent before its request fails (default 30 s). */
  idleTimeoutMs?: number;
}

/** A running server: its HTTP port, the sessions, `close()`. */
export interface NonblockingServer {
  readonly port: number;
  readonly server: http.Server;
  readonly sessions: readonly Session[];
  close(): Promise<void>;
}

/** What a command left behind. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number | null;
  signal: string | null;
  session: number;
}

/** One SSH session and its setup lock. */
class Lane {
  inFlight = 0;
  #setup: Promise<void> = Promise.resolve();

  constructor(readonly session: Session, readonly index: number, private readonly idleTimeoutMs: number) {}

  /** Runs `fn` after every earlier setup of this session finished. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#setup;
    let release!: () => void;
    this.#setup = new Promise<void>((r) => (release = r));
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** The C idiom: repeat `attempt` while it returns EAGAIN, waiting for the socket in between. */
  async nb<T>(attempt: () => T | typeof LIBSSH2_ERROR_EAGAIN): Promise<T> {
    for (;;) {
      const r = attempt();
      if (r !== LIBSSH2_ERROR_EAGAIN) return r;
      await this.wait();
    }
  }

  /** waitSocket(), failing when the socket stayed idle for the whole timeout. */
  async wait(): Promise<void> {
    if (!(await this.session.waitSocket(this.idleTimeoutMs))) throw new Error('timed out waiting for the SSH server');
  }

  /** Runs `command` on a new channel of this session; stdout and stderr are read together. */
  async run(command: string): Promise<CommandResult> {
    this.inFlight++;
    let channel: Channel | undefined;
    try {
      channel = await this.exclusive(async () => {
        const ch = await this.nb(() => this.session.openSessionNb());
        try {
          await this.nb(() => ch.execNb(command));
        } catch (e) {
          await ch.free();
          throw e;
        }
        return ch;
      });
      const ch = channel;
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outEof = false;
      let errEof = false;
      while (!outEof || !errEof) {
        let progressed = false;
        if (!outEof) {
          const r = ch.readNb(65536);
          if (r !== LIBSSH2_ERROR_EAGAIN) {
            progressed = true;
            if (r.length > 0) out.push(r);
            else outEof = true;
          }
        }
        if (!errEof) {
          const r = ch.readStderrNb(65536);
          if (r !== LIBSSH2_ERROR_EAGAIN) {
            progressed = true;
            if (r.length > 0) err.push(r);
            else errEof = true;
          }
        }
        if (!progressed) await this.wait();
      }
      await this.nb(() => ch.closeNb());
      const result: CommandResult = {
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        code: ch.getExitStatus(),
        signal: ch.getExitSignal().signal,
        session: this.index,
      };
      await this.nb(() => ch.freeNb());
      channel = undefined;
      return result;
    } finally {
      this.inFlight--;
      // A failed request leaves its channel behind: free it (teardown works in both modes).
      if (channel) await channel.free().catch(() => undefined);
    }
  }
}

/** Connects one non-blocking session with the C idiom. */
async function connectSession(opts: NonblockingServerOptions): Promise<Session> {
  const sock = await connectTcp(opts.host, opts.port ?? 22);
  const session = new Session();
  session.setBlocking(false);
  const lane = new Lane(session, -1, opts.idleTimeoutMs ?? 30000);
  try {
    await lane.nb(() => session.handshakeNb(sock));
    if (opts.privateKey) {
      await lane.nb(() => session.userauthPublickeyFromfileNb(opts.username, opts.privateKey!, opts.passphrase));
    } else {
      await lane.nb(() => session.userauthPasswordNb(opts.username, opts.password ?? ''));
    }
  } catch (e) {
    await session.free();
    sock.destroy();
    throw e;
  }
  return session;
}

/** Connects the sessions, then serves HTTP. */
export async function start(opts: NonblockingServerOptions): Promise<NonblockingServer> {
  const count = opts.sessions ?? 4;
  if (!Number.isInteger(count) || count < 1) throw new RangeError('sessions must be a positive integer');
  const settled = await Promise.allSettled(Array.from({ length: count }, () => connectSession(opts)));
  const sessions = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await Promise.all(sessions.map((s) => s.close()));
    throw failure.reason;
  }
  const lanes = sessions.map((s, i) => new Lane(s, i, opts.idleTimeoutMs ?? 30000));

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const cmd = url.searchParams.get('cmd');
    if (req.method !== 'GET' || !cmd) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('GET /?cmd=<command>\n');
      return;
    }
    // The least busy session.
    const lane = lanes.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
    lane.run(cmd).then(
      (result) => res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(result)}\n`),
      (e: unknown) => res.writeHead(502, { 'content-type': 'text/plain' }).end(`${e instanceof Error ? e.message : String(e)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort ?? 0, opts.listenHost ?? '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    server,
    sessions,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      // Teardown works in non-blocking mode too.
      await Promise.all(sessions.map((s) => s.close()));
    },
  };
}

if (require.main === module) {
  run(async () => {
    const a = parseArgs(['hostname', 'username', 'password', 'sessions', 'listenport'],
      { hostname: '127.0.0.1', username: 'username', password: '', sessions: '4', listenport: '0' });
    const srv = await start({
      host: a.hostname, port: a.port, username: a.username,
      privateKey: a.useKey ? a.privkey : undefined, passphrase: a.passphrase, password: a.password,
      sessions: Number(a.sessions), listenPort: Number(a.listenport),
    });
    process.stderr.write(`listening on http://127.0.0.1:${srv.port}/?cmd=... with ${srv.sessions.length} SSH sessions\n`);
    await new Promise<void>((resolve) => process.once('SIGINT', resolve));
    await srv.close();
  });
}
