/**
 * The Node-native layer's command APIs: session.spawn() (ChildProcess-like), session.shell()
 * (a pty), exec() options (timeout, encoding, pty, env), channel.stream() events and memory.
 */
import * as crypto from 'crypto';
import { Writable } from 'stream';
import { pipeline } from 'stream/promises';
import { TimeoutError, type Session } from '../lib';
import { authenticated } from './helpers/connect';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    stream.on('data', (d) => { out += d; });
    stream.on('end', () => resolve(out));
    stream.on('error', reject);
  });
}

describe('spawn, shell, exec options', () => {
  let s: Session;
  beforeAll(async () => { s = await authenticated(); });
  afterAll(async () => { await s.close(); });

  it('spawn: stdin piped through, stdout and stderr, exit (code, signal) then close', async () => {
    const p = await s.spawn('sha256sum; echo "to-stderr $LIBSSH2_TEST_X" >&2; exit 3', { env: { LIBSSH2_TEST_X: 'y' } });
    expect(p.pid).toBeUndefined();
    const input = crypto.randomBytes(3 * 1024 * 1024 + 17);
    const events: unknown[] = [];
    p.on('exit', (...a) => events.push(['exit', ...a]));
    const closed = new Promise((r) => p.on('close', (...a) => { events.push(['close', ...a]); r(undefined); }));
    const [out, err] = await Promise.all([collect(p.stdout), collect(p.stderr), (async () => { p.stdin.end(input); })()]);
    await closed;
    expect(out.split(' ')[0]).toBe(crypto.createHash('sha256').update(input).digest('hex'));
    expect(err).toBe('to-stderr y\n');
    expect(events).toEqual([['exit', 3, null], ['close', 3, null]]);
    expect(p.exitCode).toBe(3);
    expect(p.error).toBeUndefined();
  });

  it('spawn: exit comes without ending stdin; kill() delivers a signal', async () => {
    const quick = await s.spawn('echo done');
    quick.stdout.resume();
    quick.stderr.resume();
    const [code] = await new Promise<unknown[]>((r) => quick.once('exit', (...a) => r(a)));
    expect(code).toBe(0);

    const p = await s.spawn('echo started; exec sleep 30');
    p.stderr.resume();
    const first = await new Promise<string>((r) => p.stdout.once('data', (d) => r(String(d))));
    expect(first).toBe('started\n');
    p.stdout.resume();
    const t0 = Date.now();
    expect(p.kill('SIGKILL')).toBe(true);
    expect(p.killed).toBe(true);
    const exit = await new Promise<unknown[]>((r) => p.once('exit', (...a) => r(a)));
    expect(exit).toEqual([null, 'KILL']);
    expect(Date.now() - t0).toBeLessThan(10000);
    expect(p.kill()).toBe(false); // already gone
  });

  it('spawn with an AbortSignal: aborting ends it; an aborted signal rejects at once', async () => {
    const ac = new AbortController();
    const p = await s.spawn('sleep 30', { signal: ac.signal });
    p.stderr.resume();
    p.stdout.resume();
    const closed = new Promise((r) => p.once('close', r));
    setTimeout(() => ac.abort(), 100);
    await closed;
    expect(p.error).toMatchObject({ name: 'AbortError' });
    await expect(s.spawn('true', { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    await expect(s.spawn(42 as unknown as string)).rejects.toBeInstanceOf(TypeError);
  });

  it('shell: a pty of the asked size and TERM; env; exit and close events', async () => {
    const sh = await s.shell({ term: 'vt100', cols: 123, rows: 45, env: { LIBSSH2_TEST_SHELL: 'v1' } });
    let out = '';
    sh.on('data', (d) => { out += d; });
    const exited = new Promise<unknown[]>((r) => sh.once('exit', (...a) => r(a)));
    const closed = new Promise((r) => sh.once('close', r));
    sh.write('echo "T=$TERM S=$(stty size) E=$LIBSSH2_TEST_SHELL"; tty; exit 7\n');
    expect(await exited).toEqual([7, null]);
    await closed;
    expect(out).toContain('T=vt100 S=45 123 E=v1');
    expect(out).toMatch(/\/dev\/pts\/\d+/);
  });

  it('exec: timeout, encoding, pty, a command killed by a signal', async () => {
    const t0 = Date.now();
    await expect(s.exec('sleep 30', { timeout: 300 })).rejects.toBeInstanceOf(TimeoutError);
    expect(Date.now() - t0).toBeLessThan(10000);
    const r = await s.exec('printf "h\\303\\251"; exit 0', { encoding: 'utf8' });
    expect(r.stdout).toBe('hé');
    expect(r.stderr).toBe('');
    const tty = await s.exec('tty', { pty: { term: 'xterm', cols: 90, rows: 30 }, encoding: 'utf8' });
    expect(tty.stdout).toMatch(/\/dev\/pts\/\d+/);
    const killed = await s.exec('kill -TERM $$');
    expect([killed.code, killed.signal]).toEqual([null, 'TERM']);
    await expect(s.exec('true', { timeout: -1 })).rejects.toBeInstanceOf(RangeError);
    // The session is fine after all that.
    expect((await s.exec('echo ok', { encoding: 'utf8' })).stdout).toBe('ok\n');
  });

  it('channel.stream() emits exit (code, signal) before close', async () => {
    const ch = await s.openSession();
    await ch.exec('echo x; exit 5');
    const st = ch.stream();
    const order: unknown[] = [];
    st.on('exit', (...a) => order.push(['exit', ...a]));
    const closed = new Promise((r) => st.on('close', () => { order.push('close'); r(undefined); }));
    st.stderr.resume();
    st.resume();
    st.end();
    await closed;
    expect(order).toEqual([['exit', 5, null], 'close']);
  });

  it('stream(): stderr piped to a slow consumer is read to its end although stdout ended long before', async () => {
    const ch = await s.openSession();
    await ch.exec('head -c 1000000 /dev/zero >&2; echo out');
    const st = ch.stream();
    let errBytes = 0;
    const slowErr = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _e, cb) {
        errBytes += chunk.length;
        setTimeout(cb, 5);
      },
    });
    const exit = new Promise<unknown[]>((r) => st.once('exit', (...a) => r(a)));
    const [out] = await Promise.all([collect(st), pipeline(st.stderr, slowErr), (async () => { st.end(); })()]);
    expect(out).toBe('out\n');
    expect(errBytes).toBe(1000000);
    expect(await exit).toEqual([0, null]);
  });

  it('100 MB of stdout through stream() to a slow consumer: RSS grows < 64 MiB', async () => {
    const ch = await s.openSession();
    await ch.exec('head -c 104857600 /dev/zero');
    const st = ch.stream();
    st.stderr.resume();
    st.end();
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    let total = 0;
    let n = 0;
    const slow = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _e, cb) {
        total += chunk.length;
        // Slow (at most ~20 MB/s): the channel is read far slower than sshd sends.
        if (++n % 16 === 0) peak = Math.max(peak, process.memoryUsage().rss);
        setTimeout(cb, 3);
      },
    });
    const t0 = Date.now();
    await pipeline(st, slow);
    expect(Date.now() - t0).toBeGreaterThan(3000); // it was slow: backpressure held sshd back
    expect(total).toBe(100 * 1024 * 1024);
    const growth = peak - rss0;
    console.log(`100 MB through stream(): RSS growth ${(growth / 1048576).toFixed(1)} MiB`);
    // ASan's quarantine keeps freed memory resident (up to 256 MiB): a looser bound there.
    expect(growth).toBeLessThan((process.env.LIBSSH2_ASAN ? 512 : 64) * 1024 * 1024);
  }, 180000);

  it('100 parallel spawn() on one session, every output correct', async () => {
    const all = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
      const p = await s.spawn(`echo ${i}; echo e${i} >&2`);
      const [out, err] = await Promise.all([collect(p.stdout), collect(p.stderr)]);
      const [code] = await new Promise<unknown[]>((r) => (p.exitCode !== null ? r([p.exitCode]) : p.once('exit', (...a) => r(a))));
      return [out, err, code];
    }));
    all.forEach((x, i) => expect(x).toEqual([`${i}\n`, `e${i}\n`, 0]));
    await sleep(10);
  }, 60000);
});
