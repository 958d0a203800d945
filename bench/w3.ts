/**
 * W3 (ANCHORS.md): 64 channels opened at once on one connection, channel i execs `echo i`, all
 * read; the time of the whole op. One authenticated connection per batch (untimed), one untimed
 * warm-up op (the first channel after auth waits ~40 ms on sshd's Nagle). Every channel's
 * stdout must be "i\n", its stderr empty and its exit status 0.
 *
 * libssh2 has one channel open in flight per session, so the libssh2 peers (C, binding) open the
 * channels one after another and overlap the rest; ssh2 pipelines the opens; OpenSSH runs 64
 * `ssh -S socket` clients at once through a ControlMaster (each a process).
 */
import type { Client } from 'ssh2';
import type { Session } from '../lib';
import { cPeer, timeInProcess, type Batch, type Peer, type Workload } from './harness';
import { bindingCommand, bindingConnect, bindingDisconnect, ssh2Command, ssh2Connect, ssh2Disconnect } from './clients';
import { opensshMuxPeer } from './openssh';

export const CHANNELS = 64;

function check(i: number, out: string): void {
  if (out !== `${i}\n`) throw new Error(`W3: channel ${i} printed ${JSON.stringify(out.slice(0, 100))}`);
}

/** One W3 op with the binding: 64 concurrent flows of openSession/exec/read/close/free (bindingCommand). */
export async function bindingW3(session: Session, n = CHANNELS): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => check(i, await bindingCommand(session, `echo ${i}`))));
}

async function ssh2W3(conn: Client, n = CHANNELS): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => check(i, await ssh2Command(conn, `echo ${i}`))));
}

const binding: Peer = {
  name: 'binding',
  label: `this binding (async: ${CHANNELS} concurrent openSession/exec/read/close/free flows, Promise.all)`,
  async run(t, iterations, warmup): Promise<Batch> {
    const { session, methods } = await bindingConnect(t);
    try {
      return { ...(await timeInProcess(iterations, warmup, () => bindingW3(session))), methods };
    } finally {
      await bindingDisconnect(session);
    }
  },
};

function ssh2Peer(noDelay: boolean): Peer {
  return {
    name: noDelay ? 'ssh2+nodelay' : 'ssh2',
    label: noDelay ? '`ssh2` npm + setNoDelay(true) (64 conn.exec at once)' : '`ssh2` npm, defaults (64 conn.exec at once)',
    async run(t, iterations, warmup): Promise<Batch> {
      const { conn, methods } = await ssh2Connect(t, noDelay);
      try {
        return { ...(await timeInProcess(iterations, warmup, () => ssh2W3(conn))), methods };
      } finally {
        await ssh2Disconnect(conn);
      }
    },
  };
}

export const w3: Workload = {
  id: 'W3',
  title: 'W3 64 concurrent channels',
  description: `one authenticated connection per batch, then per op: ${CHANNELS} channels at once, channel i: open + exec ` +
    '`echo i` + read stdout ("i\\n", checked) and stderr to EOF + close + exit status 0 + free; the time of all of them',
  unit: 'op',
  throughput: false,
  peers: [
    cPeer('C', `C program on the same libssh2 (non-blocking, one state machine per channel, TCP_NODELAY)`, 'w3',
      [String(CHANNELS)]),
    binding,
    ssh2Peer(false),
    ssh2Peer(true),
    opensshMuxPeer('w3', `OpenSSH: ${CHANNELS} \`ssh -S socket host echo i\` clients at once through a ControlMaster`, CHANNELS),
  ],
  ratios: [['binding', 'C'], ['binding', 'ssh2'], ['binding', 'ssh2+nodelay'], ['binding', 'openssh']],
  targets: [
    { of: 'binding', to: 'C', max: 1.05, required: true },
    { of: 'binding', to: 'ssh2', max: 1.3, required: false },
  ],
  defaults: { iterations: 25, rounds: 5 },
  quick: { iterations: 3, rounds: 1 },
};
