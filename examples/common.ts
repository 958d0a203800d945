/**
 * What the ported C examples share: their arguments (positional, as in the C programs, with
 * environment overrides), the TCP connect, `waitsocket()`, a select(2)/recv(2) stand-in for a
 * Node socket, and the exit code.
 *
 * Environment (an argument given on the command line wins over it):
 *   SSH_HOST, SSH_PORT (default: the C program's, usually 22), SSH_USER, SSH_PASSWORD,
 *   SSH_KEY (private key path: public-key authentication instead of the password; the password,
 *   if any, is then the key's passphrase), SSH_KEY_PUB (its public key, optional).
 */
import * as net from 'node:net';
import * as readline from 'node:readline';
import {
  LIBSSH2_ERROR_EAGAIN, LIBSSH2_SFTP_ATTR_PERMISSIONS, LIBSSH2_SFTP_ATTR_SIZE, LIBSSH2_SFTP_ATTR_UIDGID, type Session,
  type SftpAttributes,
} from '../lib';

export { LIBSSH2_ERROR_EAGAIN };

/** The connection settings every example has, plus its own positional arguments. */
export interface Common {
  hostname: string;
  port: number;
  username: string;
  password: string;
  /** Private and public key paths (the C programs' `privkey`, `pubkey`). */
  privkey: string;
  pubkey: string | undefined;
  /** SSH_KEY was given: authenticate with the key, not the password. */
  useKey: boolean;
  /** The passphrase for the key: the password when one was given (as the C programs do). */
  passphrase: string | undefined;
}

const ENV: Record<string, string> = { hostname: 'SSH_HOST', username: 'SSH_USER', password: 'SSH_PASSWORD' };

/**
 * Reads `process.argv` like the C program: `names[i]` is argument i+1, with `defaults`.
 * `hostname`, `username` and `password` also come from SSH_HOST/SSH_USER/SSH_PASSWORD when not
 * given as arguments; `port` from SSH_PORT (else `defaultPort`).
 */
export function parseArgs<K extends string>(names: readonly K[], defaults: Record<K, string>, defaultPort = 22,
  argv: string[] = process.argv.slice(2)): Record<K, string> & Common {
  const out: Record<string, string> = { ...defaults };
  names.forEach((name, i) => {
    if (i < argv.length) out[name] = argv[i];
    else if (ENV[name] !== undefined && process.env[ENV[name]] !== undefined) out[name] = process.env[ENV[name]]!;
  });
  for (const [name, variable] of Object.entries(ENV)) {
    if (!names.includes(name as K) && process.env[variable] !== undefined) out[name] = process.env[variable]!;
  }
  const port = process.env.SSH_PORT ? Number(process.env.SSH_PORT) : defaultPort;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`SSH_PORT: not a port: ${process.env.SSH_PORT}`);
  const key = process.env.SSH_KEY;
  const password = out.password ?? '';
  return {
    ...(out as Record<K, string>),
    hostname: out.hostname ?? '127.0.0.1',
    port,
    username: out.username ?? '',
    password,
    privkey: key ?? '/home/username/.ssh/id_rsa',
    pubkey: process.env.SSH_KEY_PUB ?? (key ? undefined : '/home/username/.ssh/id_rsa.pub'),
    useKey: key !== undefined && key !== '',
    passphrase: password === '' ? undefined : password,
  };
}

/** The C programs' socket() + connect(): a connected `net.Socket` for `session.handshake()`. */
export function connectTcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
    sock.once('error', (e) => reject(new Error(`failed to connect to ${host}:${port}: ${e.message}`)));
  });
}

/**
 * The C examples' `waitsocket()`: wait (at most 10 s, as their select(2)) until the session's
 * socket is ready in the directions libssh2 waits for. Resolves false on timeout.
 */
export function waitsocket(session: Session): Promise<boolean> {
  return session.waitSocket(10000);
}

/** The SHA1 host key fingerprint as the C programs print it ("AB CD ... "). */
export function fingerprintHex(hash: Buffer | null): string {
  if (!hash) return '<none>';
  return [...hash].map((b) => `${b.toString(16).toUpperCase().padStart(2, '0')} `).join('');
}

/** Rejection handler that replaces an error by the C program's message (keeping the cause). */
export function failed(message: string): (e: unknown) => never {
  return (e: unknown) => {
    throw new Error(`${message} (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  };
}

/**
 * select(2) + recv(2) on a Node socket or readable stream: the data arrives by events into a
 * queue (the stream is paused while the queue holds more than `limit` bytes).
 */
export class SocketReader {
  #chunks: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #error: Error | undefined;
  #wake: (() => void) | undefined;

  constructor(readonly stream: NodeJS.ReadableStream, private readonly limit = 65536) {
    stream.on('data', (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      this.#chunks.push(b);
      this.#queued += b.length;
      if (this.#queued > this.limit) stream.pause();
      this.#notify();
    });
    stream.on('end', () => {
      this.#ended = true;
      this.#notify();
    });
    stream.on('close', () => {
      this.#ended = true;
      this.#notify();
    });
    stream.on('error', (e: Error) => {
      this.#error = e;
      this.#notify();
    });
    stream.resume(); // a socket accepted with pauseOnConnect starts paused
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** True when recv() has something to return (data, EOF or an error). */
  get ready(): boolean {
    return this.#queued > 0 || this.#ended || this.#error !== undefined;
  }

  /** select(2) with a timeout: resolves true once ready, false when `ms` passed first. */
  select(ms: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve(false);
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** recv(2): at most `max` bytes now; an empty Buffer at EOF; null when nothing is there yet. */
  recv(max: number): Buffer | null {
    if (this.#error) throw this.#error;
    if (this.#queued === 0) return this.#ended ? Buffer.alloc(0) : null;
    const first = this.#chunks[0];
    let out: Buffer;
    if (first.length <= max) {
      out = first;
      this.#chunks.shift();
    } else {
      out = first.subarray(0, max);
      this.#chunks[0] = first.subarray(max);
    }
    this.#queued -= out.length;
    if (this.#queued <= this.limit) this.stream.resume();
    return out;
  }
}

/**
 * The C programs' keyboard-interactive callback that asks the user: shows the server's name,
 * instruction and prompts on stderr, reads one line of stdin per prompt.
 */
export async function kbdCallback(name: string, instruction: string, prompts: { text: string; echo: boolean }[]): Promise<string[]> {
  process.stderr.write('Performing keyboard-interactive authentication.\n');
  process.stderr.write(`Authentication name: '${name}'\n`);
  process.stderr.write(`Authentication instruction: '${instruction}'\n`);
  process.stderr.write(`Number of prompts: ${prompts.length}\n\n`);
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const responses: string[] = [];
  try {
    for (const [i, prompt] of prompts.entries()) {
      process.stderr.write(`Prompt ${i} from server: '${prompt.text}'\n`);
      process.stderr.write('Please type response: ');
      const line = await lines.next();
      const response = line.done ? '' : line.value;
      responses.push(response);
      process.stderr.write(`Response ${i} from user is '${response}'\n\n`);
    }
  } finally {
    rl.close();
  }
  process.stderr.write('Done. Sending keyboard-interactive responses to server now.\n');
  return responses;
}

/**
 * The C sftpdir examples' line for an entry without a long form: "--fix----- " when permissions
 * are known (a real program would render them), uid and gid, size, name.
 */
export function listingLine(name: string, attrs: SftpAttributes): string {
  let line = attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS ? '--fix----- ' : '---------- ';
  if (attrs.flags & LIBSSH2_SFTP_ATTR_UIDGID) line += `${String(attrs.uid).padStart(4)} ${String(attrs.gid).padStart(4)} `;
  else line += '   -    - ';
  if (attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) line += `${String(attrs.filesize).padStart(8)} `;
  return `${line}${name}`;
}

/** write(2) to a stream (stdout by default), waiting when it is full. */
export function writeAll(data: Buffer, stream: NodeJS.WritableStream = process.stdout): Promise<void> {
  return new Promise((resolve) => {
    if (stream.write(data)) resolve();
    else stream.once('drain', resolve);
  });
}

/**
 * Runs an example's `main()`: its number becomes the exit code; a failure prints its message to
 * stderr and exits with 1.
 */
export function run(main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
