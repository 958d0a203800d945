import { Session } from '../lib';
import { fixture } from './fixtures';
import { tcp } from './helpers/connect';

it('smoke', async () => {
  const f = fixture();
  const s = new Session();
  await s.handshake(await tcp());
  expect(s.bannerGet()).toMatch(/OpenSSH/);
  const list = await s.userauthList(f.user);
  expect(list).toContain('publickey');
  await s.userauthPublickeyFromfile(f.user, f.keys.ed25519.private);
  expect(s.userauthAuthenticated()).toBe(true);
  await s.close();
});
