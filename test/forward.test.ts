import * as crypto from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { Session, BadUseError, ChannelError } from '../lib';
import { authenticated } from './helpers/connect';
import { echoThrough } from './helpers/channel';

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');


/** Sends `data` to a TCP port and resolves with as many bytes read back (an echo). */
function echoViaTcp(port: number, data: Buffer): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    let got = 0;
    c.on('data', (d) => {
      parts.push(d);
      got += d.length;
      if (got >= data.length) { c.end(); resolve(Buffer.concat(parts)); }
    });
    c.on('error', reject);
    c.write(data);
  });
}

describe('port forwarding', () => {
  let s: Session;
  let echo: net.Server;
  let echoPort: number;
  beforeAll(async () => {
    s = await authenticated();
    echo = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    echoPort = (echo.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    await s.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });

  it('64 MiB through directTcpip to a local echo server, sha256 equal', async () => {
    const ch = await s.directTcpip('127.0.0.1', echoPort);
    const data = crypto.randomBytes(64 * 1024 * 1024);
    const back = await echoThrough(ch, data);
    expect(sha(back)).toBe(sha(data));
    await ch.close();
    await ch.free();
  }, 120000);

  it('32 concurrent forwards', async () => {
    const chans = await Promise.all(Array.from({ length: 32 }, () => s.directTcpip('127.0.0.1', echoPort)));
    const datas = chans.map(() => crypto.randomBytes(100000));
    const backs = await Promise.all(chans.map((c, i) => echoThrough(c, datas[i])));
    backs.forEach((b, i) => expect(sha(b)).toBe(sha(datas[i])));
    await Promise.all(chans.map(async (c) => { await c.close(); await c.free(); }));
  }, 60000);

  it('directTcpip to a closed port fails with a ChannelError', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    await expect(s.directTcpip('127.0.0.1', port)).rejects.toBeInstanceOf(ChannelError);
    // The session still works.
    const ch = await s.directTcpip('127.0.0.1', echoPort);
    expect((await echoThrough(ch, Buffer.from('ok'))).toString()).toBe('ok');
    await ch.free();
  });

  it('directStreamlocal to a local unix socket', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-sock-'));
    fs.chmodSync(dir, 0o755);
    const sockPath = path.join(dir, 'echo.sock');
    const server = net.createServer((c) => c.pipe(c));
    await new Promise<void>((r) => server.listen(sockPath, r));
    fs.chmodSync(sockPath, 0o777);
    try {
      const ch = await s.directStreamlocal(sockPath);
      const data = crypto.randomBytes(200000);
      expect(sha(await echoThrough(ch, data))).toBe(sha(data));
      await ch.free();
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('remote forward both ways: forwardListen(0), accept, echo', async () => {
    const listener = await s.forwardListen(0, '127.0.0.1');
    expect(listener.boundPort).toBeGreaterThan(0);
    const accepting = listener.forwardAccept();
    // A client connecting to the server's port (the server is this machine).
    const client = net.connect(listener.boundPort, '127.0.0.1');
    const ch = await accepting;
    const fromClient = new Promise<Buffer>((r, j) => {
      ch.read().then(r, j);
    });
    client.write('hello from the client');
    expect((await fromClient).toString()).toBe('hello from the client');
    const toClient = new Promise<string>((r) => client.once('data', (d) => r(d.toString())));
    await ch.write('hello back');
    expect(await toClient).toBe('hello back');
    client.destroy();
    await ch.free();
    await listener.forwardCancel();
    await listener.forwardCancel(); // idempotent
  });

  it('forwardCancel with a pending accept: the accept rejects cleanly', async () => {
    const listener = await s.forwardListen(0, '127.0.0.1');
    const pending = listener.forwardAccept().catch((e) => e);
    await new Promise((r) => setTimeout(r, 50));
    await listener.forwardCancel();
    expect(await pending).toBeInstanceOf(BadUseError);
    await expect(listener.forwardAccept()).rejects.toBeInstanceOf(BadUseError);
    // The port is closed again (libssh2 sends the cancel without waiting for a reply: allow
    // the server a moment): a connection is refused.
    const tryConnect = () => new Promise<boolean>((r) => {
      const c = net.connect(listener.boundPort, '127.0.0.1');
      c.once('error', () => r(true));
      c.once('connect', () => { c.destroy(); r(false); });
    });
    let refused = await tryConnect();
    for (let i = 0; i < 40 && !refused; i++) {
      await new Promise((r) => setTimeout(r, 50));
      refused = await tryConnect();
    }
    expect(refused).toBe(true);
  });

  it('forwardLocal: a local port forwarded to the echo server, 16 MiB both ways, backpressure', async () => {
    const server = await s.forwardLocal(0, '127.0.0.1', echoPort);
    const port = (server.address() as net.AddressInfo).port;
    const data = crypto.randomBytes(16 * 1024 * 1024);
    const results = await Promise.all([0, 1, 2].map(() => echoViaTcp(port, data)));
    for (const r of results) expect(sha(r)).toBe(sha(data));
    await new Promise<void>((r) => server.close(() => r()));
  }, 60000);

  it('forwardRemote: connections to the server port reach a local server', async () => {
    const fwd = await s.forwardRemote(0, '127.0.0.1', echoPort);
    expect(fwd.boundPort).toBeGreaterThan(0);
    const data = crypto.randomBytes(1024 * 1024);
    const back = await echoViaTcp(fwd.boundPort, data);
    expect(sha(back)).toBe(sha(data));
    await fwd.close();
  }, 60000);

  it('channel.stream(): 3 MiB through `cat`, stderr separate, the channel freed at the end', async () => {
    const ch = await s.openSession();
    await ch.exec('cat; echo done >&2');
    const stream = ch.stream();
    const data = crypto.randomBytes(3 * 1024 * 1024 + 5);
    const errParts: Buffer[] = [];
    stream.stderr.on('data', (d) => errParts.push(d));
    const outParts: Buffer[] = [];
    stream.on('data', (d) => outParts.push(d));
    const closed = new Promise((r) => stream.on('close', r));
    stream.end(data);
    await closed;
    expect(sha(Buffer.concat(outParts))).toBe(sha(data));
    expect(Buffer.concat(errParts).toString()).toBe('done\n');
    expect(() => ch.eof()).toThrow(BadUseError); // closed and freed with the stream
  }, 60000);
});
