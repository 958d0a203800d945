/**
 * Concurrency stress (`npm run test:stress`, jest.stress.config.js; not part of `npm test`):
 * 20 sessions × 20 concurrent channels against the fixture, for a bounded time (default 30 s,
 * `LIBSSH2_STRESS_SECONDS`) and a bounded count. Each channel slot loops over mixed work:
 * exec with exact output checks (echo of random tokens, large generated stdout, stdin hashed by
 * sha256sum, stderr plus exit code) and SFTP round trips (write a random file, read it back,
 * compare sha256). Every result must be exact; a watchdog fails the run when nothing completes
 * for 30 s (a deadlock) or the run overshoots its time limit by far.
 */
import { createHash, randomBytes } from 'crypto';
import * as net from 'net';
import { Session, type Sftp } from '../../lib';
import { fixture } from '../fixtures';

const SESSIONS = 20;
const CHANNELS = 20;
/** Of the CHANNELS slots of a session, this many do SFTP (each on its own SFTP channel). */
const SFTP_SLOTS = 5;
const SECONDS = Number(process.env.LIBSSH2_STRESS_SECONDS ?? 30);
/** Upper bound on operations (exec + SFTP round trips), whatever the speed. */
const MAX_OPS = 200000;
/** No completed operation for this long: deadlock. */
const STALL_MS = 30000;

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const token = () => randomBytes(12).toString('hex');
/** A random integer in [lo, hi]. */
const between = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));

interface Counts {
  exec: Record<string, number>;
  sftp: number;
  sftpBytes: number;
  execBytes: number;
}

function tcp(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function login(): Promise<Session> {
  const f = fixture();
  const s = new Session();
  await s.handshake(await tcp(f.host, f.port));
  await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
  return s;
}

/** `yes <t> | head -c <n>` computed locally. */
function yesHead(t: string, n: number): Buffer {
  const line = Buffer.from(`${t}\n`);
  return Buffer.alloc(n, line);
}

/** One exec of a randomly chosen kind, its output checked exactly. */
async function oneExec(s: Session, counts: Counts): Promise<void> {
  const t = token();
  const kind = between(0, 3);
  if (kind === 0) {
    const r = await s.exec(`echo ${t}`, { encoding: 'utf8' });
    expect(r).toEqual({ stdout: `${t}\n`, stderr: '', code: 0, signal: null });
    counts.exec.echo++;
  } else if (kind === 1) {
    const n = between(1, 256 * 1024);
    const r = await s.exec(`yes ${t} | head -c ${n}`);
    expect({ code: r.code, stderr: r.stderr.toString(), length: r.stdout.length }).toEqual({ code: 0, stderr: '', length: n });
    if (!r.stdout.equals(yesHead(t, n))) throw new Error(`generated stdout differs (${n} bytes)`);
    counts.exec.bulk++;
    counts.execBytes += n;
  } else if (kind === 2) {
    const input = randomBytes(between(0, 128 * 1024));
    const r = await s.exec('sha256sum', { input, encoding: 'utf8' });
    expect(r).toEqual({ stdout: `${sha256(input)}  -\n`, stderr: '', code: 0, signal: null });
    counts.exec.stdin++;
    counts.execBytes += input.length;
  } else {
    const code = between(0, 120);
    const r = await s.exec(`echo out-${t}; echo err-${t} >&2; exit ${code}`, { encoding: 'utf8' });
    expect(r).toEqual({ stdout: `out-${t}\n`, stderr: `err-${t}\n`, code, signal: null });
    counts.exec.stderr++;
  }
}

/** One SFTP round trip: random file written, read back, sha256 compared, removed. */
async function oneSftp(sftp: Sftp, dir: string, counts: Counts): Promise<void> {
  const data = randomBytes(between(0, 512 * 1024));
  const file = `${dir}/${token()}`;
  await sftp.writeFile(file, data);
  const back = await sftp.readFile(file);
  expect(back.length).toBe(data.length);
  expect(sha256(back)).toBe(sha256(data));
  expect((await sftp.stat(file)).filesize).toBe(data.length);
  await sftp.unlink(file);
  counts.sftp++;
  counts.sftpBytes += data.length;
}

describe('stress: 20 sessions × 20 channels of mixed exec and SFTP', () => {
  const sessions: Session[] = [];
  let dir = '';

  afterAll(async () => {
    if (sessions.length && dir) await sessions[0].exec(`rm -rf ${dir}`).catch(() => undefined);
    await Promise.all(sessions.map((s) => s.close().catch(() => undefined)));
  }, 60000);

  it(`every result is exact, nothing deadlocks (${SECONDS} s)`, async () => {
    for (let i = 0; i < SESSIONS; i += 5) sessions.push(...await Promise.all([0, 1, 2, 3, 4].map(() => login())));
    dir = (await sessions[0].exec('mktemp -d /tmp/libssh2-stress-XXXXXXXX', { encoding: 'utf8' })).stdout.trim();
    expect(dir).toMatch(/^\/tmp\/libssh2-stress-/);

    const counts: Counts = { exec: { echo: 0, bulk: 0, stdin: 0, stderr: 0 }, sftp: 0, sftpBytes: 0, execBytes: 0 };
    const t0 = Date.now();
    const until = t0 + SECONDS * 1000;
    let ops = 0;
    let lastDone = Date.now();
    let inFlight = 0;
    let failed: unknown;
    const more = () => failed === undefined && Date.now() < until && ops < MAX_OPS;

    const slot = async (s: Session, k: number): Promise<void> => {
      const sftp = k < SFTP_SLOTS ? await s.sftpInit() : undefined;
      try {
        while (more()) {
          ops++;
          inFlight++;
          try {
            if (sftp) await oneSftp(sftp, dir, counts);
            else await oneExec(s, counts);
          } finally {
            inFlight--;
          }
          lastDone = Date.now();
        }
      } catch (e) {
        failed ??= e;
        throw e;
      } finally {
        await sftp?.shutdown();
      }
    };

    let watchdogTimer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      watchdogTimer = setInterval(() => {
        const now = Date.now();
        if (now - lastDone > STALL_MS) {
          reject(new Error(`watchdog: no operation completed for ${now - lastDone} ms (${inFlight} in flight, ${ops} started): deadlock`));
        } else if (now > until + 120000) {
          reject(new Error(`watchdog: still running ${now - until} ms after the time limit (${inFlight} in flight)`));
        }
      }, 1000);
    });
    const work = Promise.all(sessions.flatMap((s) => Array.from({ length: CHANNELS }, (_, k) => slot(s, k))));
    try {
      await Promise.race([work, watchdog]);
    } finally {
      clearInterval(watchdogTimer);
    }
    const secs = (Date.now() - t0) / 1000;
    const execs = Object.values(counts.exec).reduce((a, b) => a + b, 0);
    process.stdout.write(
      `stress: ${secs.toFixed(1)} s, ${SESSIONS} sessions × ${CHANNELS} channels: ${execs} execs ${JSON.stringify(counts.exec)} ` +
      `(${(counts.execBytes / 1048576).toFixed(1)} MiB), ${counts.sftp} SFTP round trips (${(counts.sftpBytes / 1048576).toFixed(1)} MiB each way)\n`,
    );
    expect(execs).toBeGreaterThan(0);
    expect(counts.sftp).toBeGreaterThan(0);
    expect(Object.values(counts.exec).every((n) => n > 0)).toBe(true);
    expect(execs + counts.sftp).toBe(ops);
    // All sessions are still healthy afterwards.
    const after = await Promise.all(sessions.map((s) => s.exec('echo ok', { encoding: 'utf8' })));
    expect(after.map((r) => r.stdout)).toEqual(sessions.map(() => 'ok\n'));
  }, (SECONDS + 240) * 1000);
});
