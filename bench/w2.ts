/**
 * W2 exec throughput (ANCHORS.md): one authenticated connection per batch (set up untimed), then
 * sequential execs, each: open a session channel, exec `true`, read to EOF, exit status,
 * close/free. The first exec after auth waits ~40 ms on sshd's Nagle (ANCHORS.md): it is the
 * untimed warm-up.
 */
import { cPeer, timeInProcess, type Batch, type Peer, type Workload } from './harness';
import { bindingConnect, bindingDisconnect, bindingExec, bindingExecNb, ssh2Connect, ssh2Disconnect, ssh2Exec } from './clients';
import { opensshMuxPeer } from './openssh';

const binding: Peer = {
  name: 'binding',
  label: 'this binding (async, Promise per call)',
  async run(t, iterations, warmup): Promise<Batch> {
    const { session, methods } = await bindingConnect(t);
    try {
      return { ...(await timeInProcess(iterations, warmup, () => bindingExec(session))), methods };
    } finally {
      await bindingDisconnect(session);
    }
  },
};

/** The binding in non-blocking mode: connect and auth async, then setBlocking(false) and the …Nb() calls. */
const bindingNb: Peer = {
  name: 'binding-nb',
  label: 'this binding, non-blocking (`setBlocking(false)`, `…Nb()` calls, `await waitSocket()` on EAGAIN)',
  async run(t, iterations, warmup): Promise<Batch> {
    const { session, methods } = await bindingConnect(t);
    try {
      session.setBlocking(false);
      const b = await timeInProcess(iterations, warmup, () => bindingExecNb(session));
      session.setBlocking(true);
      return { ...b, methods };
    } finally {
      await bindingDisconnect(session);
    }
  },
};

function ssh2Peer(noDelay: boolean): Peer {
  return {
    name: noDelay ? 'ssh2+nodelay' : 'ssh2',
    label: noDelay ? '`ssh2` npm + setNoDelay(true)' : '`ssh2` npm, defaults',
    async run(t, iterations, warmup): Promise<Batch> {
      const { conn, methods } = await ssh2Connect(t, noDelay);
      try {
        return { ...(await timeInProcess(iterations, warmup, () => ssh2Exec(conn))), methods };
      } finally {
        await ssh2Disconnect(conn);
      }
    },
  };
}

export const w2: Workload = {
  id: 'W2',
  title: 'W2 exec throughput',
  description: 'one authenticated connection per batch, then sequential execs: open a session channel + exec `true` + ' +
    'read stdout/stderr to EOF + close (after the peer\'s CLOSE) + exit status + free',
  unit: 'exec',
  throughput: true,
  peers: [
    cPeer('C', 'C program on the same libssh2 (blocking, TCP_NODELAY)', 'w2'),
    binding,
    bindingNb,
    ssh2Peer(false),
    ssh2Peer(true),
    opensshMuxPeer('w2', 'OpenSSH `ssh -S socket host true` through a ControlMaster (a process per exec)'),
  ],
  ratios: [['binding', 'C'], ['binding-nb', 'C'], ['binding', 'ssh2'], ['binding', 'ssh2+nodelay'], ['binding-nb', 'ssh2+nodelay'],
    ['binding', 'openssh']],
  targets: [
    { of: 'binding', to: 'C', min: 0.95, required: true },
    { of: 'binding', to: 'ssh2+nodelay', min: 1.15, required: false },
  ],
  defaults: { iterations: 1000, rounds: 5 },
  quick: { iterations: 50, rounds: 1 },
};
