import { Channel, ChannelRequestDeniedError } from '../lib';
import { authenticated } from './helpers/connect';

/**
 * X11 forwarding against the fixture (X11Forwarding yes, X11UseLocalhost yes, xauth installed by
 * .ci/run): the request succeeds, sshd sets DISPLAY to its proxy display, and a connection to
 * that display arrives here as an "x11" channel (LIBSSH2_CALLBACK_X11, session.setX11Handler).
 */
describe('x11 forwarding', () => {
  it('x11Req succeeds: DISPLAY points at the server\'s proxy display', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    const ch = await s.openSession();
    await ch.x11Req(0);
    await ch.exec('echo "$DISPLAY"');
    const out: Buffer[] = [];
    for (let b = await ch.read(); b.length > 0; b = await ch.read()) out.push(b);
    expect(Buffer.concat(out).toString()).toMatch(/^localhost:\d+\.0\n$/);
    await ch.close();
    expect(ch.getExitStatus()).toBe(0);
    await ch.free();
    await s.close();
  });

  it('a second x11Req on the same channel: ChannelRequestDeniedError; the channel still runs', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    const ch = await s.openSession();
    await ch.x11Req(0, false, 'MIT-MAGIC-COOKIE-1', '0123456789abcdef0123456789abcdef');
    await expect(ch.x11Req(0)).rejects.toBeInstanceOf(ChannelRequestDeniedError);
    await ch.exec('echo ok');
    expect((await ch.read()).toString()).toBe('ok\n');
    await ch.free();
    await s.close();
  });

  it('an X client on the server reaches the x11 handler, both ways', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    const seen: { shost: string; sport: number; got: string }[] = [];
    const served: Promise<void>[] = [];
    s.setX11Handler((channel: Channel, shost, sport) => {
      served.push((async () => {
        let got = '';
        while (got.length < 4) {
          const b = await channel.read(4 - got.length);
          if (b.length === 0) break;
          got += b.toString();
        }
        seen.push({ shost, sport, got });
        await channel.write('pong');
        await channel.sendEof();
        await channel[Symbol.asyncDispose]();
      })());
    });
    const ch = await s.openSession();
    await ch.x11Req(0);
    // The X client: connect to the proxy display, send 4 bytes, print the answer.
    await ch.exec('bash -c \'d=${DISPLAY#*:}; d=${d%.*}; exec 3<>/dev/tcp/127.0.0.1/$((6000 + d)); ' +
      'printf ping >&3; head -c 4 <&3\'');
    const out: Buffer[] = [];
    for (let b = await ch.read(); b.length > 0; b = await ch.read()) out.push(b);
    await ch.close();
    expect(Buffer.concat(out).toString()).toBe('pong');
    expect(ch.getExitStatus()).toBe(0);
    await Promise.all(served);
    expect(seen).toHaveLength(1);
    expect(seen[0].got).toBe('ping');
    expect(seen[0].shost).toBe('127.0.0.1');
    expect(seen[0].sport).toBeGreaterThan(0);
    await ch.free();
    await s.close();
  });

  it('without an x11 handler the connection is refused; the session goes on', async () => {
    const s = await authenticated();
    s.setTimeout(30000);
    s.setX11Handler(() => undefined);
    s.setX11Handler(null);
    const ch = await s.openSession();
    await ch.x11Req(0);
    await ch.exec('bash -c \'d=${DISPLAY#*:}; d=${d%.*}; exec 3<>/dev/tcp/127.0.0.1/$((6000 + d)); ' +
      'printf ping >&3; head -c 4 <&3; echo "[eof]"\'');
    const out: Buffer[] = [];
    for (let b = await ch.read(); b.length > 0; b = await ch.read()) out.push(b);
    await ch.close();
    expect(Buffer.concat(out).toString()).toBe('[eof]\n');
    expect(s.closed).toBe(false);
    await ch.free();
    await s.close();
  });
});
