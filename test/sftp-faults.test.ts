import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Session, ChannelClosedError, Libssh2Error } from '../lib';
import { startSshd, stopSshd, type SshdFixture } from './fixtures';
import { tcp } from './helpers/connect';

/**
 * A server whose "sftp" answers the version handshake, then sends the first 19 bytes of a
 * 104-byte reply and exits (ForceCommand replaces every subsystem). libssh2 1.11.1 spun forever
 * inside one call on this (LIBSSH2-PITFALLS.md item 25); deps/patches/sftp-eof-mid-packet.patch.
 */
describe('sftp against a hostile server', () => {
  let evil: SshdFixture;
  let scriptDir: string;

  beforeAll(async () => {
    scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), 'libssh2-evil-sftp-'));
    fs.chmodSync(scriptDir, 0o755);
    const script = path.join(scriptDir, 'half-reply.sh');
    fs.writeFileSync(script, [
      '#!/bin/sh',
      'head -c 9 > /dev/null                                   # SSH_FXP_INIT',
      "printf '\\000\\000\\000\\005\\002\\000\\000\\000\\003'  # SSH_FXP_VERSION 3",
      'head -c 4 > /dev/null                                   # the next request arrives',
      "printf '\\000\\000\\000\\144\\151\\000\\000\\000\\001abcdefghij'",
      'exit 0',
      '',
    ].join('\n'), { mode: 0o755 });
    evil = await startSshd({ extraConfig: [`ForceCommand ${script}`] });
  });

  afterAll(async () => {
    await stopSshd(evil);
    fs.rmSync(scriptDir, { recursive: true, force: true });
  });

  it('a reply cut short by the end of the channel fails with ChannelClosedError, no hang', async () => {
    const s = new Session();
    s.setTimeout(10000); // a hang would fail as TimeoutError; a spin would never return at all
    await s.handshake(await tcp(evil.host, evil.port));
    await s.userauthPublickeyFromfile(evil.user, evil.keys.ed25519.private);
    const sftp = await s.sftpInit();
    const err = await sftp.stat('/etc').catch((e) => e);
    expect(err).toBeInstanceOf(Libssh2Error);
    expect(err).toBeInstanceOf(ChannelClosedError);
    // The session itself is fine.
    expect(s.closed).toBe(false);
    await s.close();
  });
});
