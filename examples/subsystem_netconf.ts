/**
 * Port of libssh2's example/subsystem_netconf.c: start the "netconf" subsystem (port 830 by
 * default), exchange <hello> messages, send one <rpc> and print the <rpc-reply> (blocking calls:
 * the async API). `-p` or `-k` as 4th argument forces password or public key. NETCONF_RPC
 * replaces the <rpc> sent (an addition, for servers that answer something else).
 *
 *   node -r ./scripts/register-ts.js examples/subsystem_netconf.ts 127.0.0.1 user password [-p|-k]
 */
import { LIBSSH2_HOSTKEY_HASH_SHA1, Session, type Channel } from '../lib';
import { connectTcp, failed, fingerprintHex, parseArgs, run } from './common';

const AUTH_NONE = 0;
const AUTH_PASSWORD = 1;
const AUTH_PUBLICKEY = 2;

/** Writes all of `buf` (the async write loops over partial writes itself). */
async function netconfWrite(channel: Channel, buf: string): Promise<void> {
  await channel.write(buf).catch(failed('channel.write'));
}

/**
 * Reads until `endtag` followed by the end-of-message marker "]]>]]>" (really, this wants an
 * XML parser); returns what came before the marker.
 */
async function netconfReadUntil(channel: Channel, endtag: string, buflen = 1048576): Promise<string> {
  let buf = '';
  let specialsequence = -1;
  do {
    const len = await channel.read(buflen - buf.length).catch(failed('channel.read'));
    if (len.length === 0) break; // EOF
    buf += len.toString();
    const endreply = buf.indexOf(endtag);
    if (endreply >= 0) specialsequence = buf.indexOf(']]>]]>', endreply);
  } while (specialsequence < 0 && buf.length < buflen);
  if (specialsequence < 0) throw new Error('netconfReadUntil(): ]]>]]> not found. Read buffer too small?');
  // Drop the marker: only XML is returned.
  return buf.slice(0, specialsequence);
}

async function main(): Promise<number> {
  const args = parseArgs(['hostname', 'username', 'password', 'option'],
    { hostname: '127.0.0.1', username: 'username', password: '', option: '' }, 830);
  const { hostname, port, username, password, privkey, pubkey, passphrase } = args;
  const option = args.option || (args.useKey ? '-k' : '');
  let auth = AUTH_NONE;

  // Connect to SSH server
  const sock = await connectTcp(hostname, port);

  // Create a session instance
  const session = new Session();
  let channel: Channel | undefined;
  try {
    // Start it up: banners, key exchange, crypto, compression and MAC layers.
    await session.handshake(sock).catch(failed('Error when starting up SSH session'));

    // Not authenticated yet: check the host key's fingerprint against what we know.
    const fingerprint = session.hostkeyHash(LIBSSH2_HOSTKEY_HASH_SHA1);
    process.stderr.write(`Fingerprint: ${fingerprintHex(fingerprint)}\n`);

    // Check what authentication methods are available
    const userauthlist = await session.userauthList(username);
    if (userauthlist) {
      process.stderr.write(`Authentication methods: ${userauthlist.join(',')}\n`);
      if (userauthlist.includes('password')) auth |= AUTH_PASSWORD;
      if (userauthlist.includes('publickey')) auth |= AUTH_PUBLICKEY;

      // Check for options
      if ((auth & AUTH_PASSWORD) && option === '-p') auth = AUTH_PASSWORD;
      if ((auth & AUTH_PUBLICKEY) && option === '-k') auth = AUTH_PUBLICKEY;

      if (auth & AUTH_PASSWORD) {
        await session.userauthPassword(username, password).catch(failed('Authentication by password failed.'));
      } else if (auth & AUTH_PUBLICKEY) {
        await session.userauthPublickeyFromfile(username, privkey, passphrase, pubkey)
          .catch(failed('Authentication by public key failed.'));
        process.stderr.write('Authentication by public key succeeded.\n');
      } else {
        throw new Error('No supported authentication methods found.');
      }
    }

    // Open a channel
    channel = await session.openSession()
      .catch(failed('Could not open the channel. (This can be a problem at the server: see its logs.)'));

    // Execute the subsystem on our channel
    await channel.subsystem('netconf')
      .catch(failed("Could not execute the 'netconf' subsystem. (This can be a problem at the server: see its logs.)"));

    // NETCONF over SSH: https://tools.ietf.org/html/draft-ietf-netconf-ssh-06
    process.stderr.write('Sending NETCONF client <hello>\n');
    await netconfWrite(channel,
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<hello>' +
      '<capabilities>' +
      '<capability>urn:ietf:params:xml:ns:netconf:base:1.0</capability>' +
      '</capabilities>' +
      '</hello>\n' +
      ']]>]]>\n');

    process.stderr.write('Reading NETCONF server <hello>\n');
    let buf = await netconfReadUntil(channel, '</hello>');
    process.stderr.write(`Got ${buf.length} bytes:\n----------------------\n${buf}`);

    process.stderr.write('Sending NETCONF <rpc>\n');
    await netconfWrite(channel, process.env.NETCONF_RPC ??
      '<?xml version="1.0" encoding="UTF-8"?>\n' +
      '<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">' +
      '<get-interface-information><terse/></get-interface-information>' +
      '</rpc>\n' +
      ']]>]]>\n');

    process.stderr.write('Reading NETCONF <rpc-reply>\n');
    buf = await netconfReadUntil(channel, '</rpc-reply>');
    process.stderr.write(`Got ${buf.length} bytes:\n----------------------\n${buf}`);
  } finally {
    // shutdown:
    await channel?.free();
    await session.disconnect('Normal Shutdown').catch(() => undefined);
    await session.free();
    sock.destroy();
  }
  return 0;
}

run(main);
