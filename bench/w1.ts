/**
 * W1 "per-op" (ANCHORS.md): in a warm process, one connection after another: TCP connect +
 * handshake + publickey auth (ed25519 key file) + exec `true` + read to EOF + exit status +
 * close + disconnect + free. W1-auth is the same without the exec (channel open to close).
 */
import { cPeer, timeInProcess, type Batch, type Methods, type Peer, type Workload } from './harness';
import { bindingConnect, bindingDisconnect, bindingExec, ssh2Connect, ssh2Disconnect, ssh2Exec } from './clients';

function bindingPeer(withExec: boolean): Peer {
  return {
    name: 'binding',
    label: 'this binding (async, Promise per call)',
    async run(t, iterations, warmup): Promise<Batch> {
      let methods: Methods | null = null;
      const op = async () => {
        const c = await bindingConnect(t);
        methods ??= c.methods;
        try {
          if (withExec) await bindingExec(c.session);
        } finally {
          await bindingDisconnect(c.session);
        }
      };
      return { ...(await timeInProcess(iterations, warmup, op)), methods };
    },
  };
}

function ssh2Peer(noDelay: boolean, withExec: boolean): Peer {
  return {
    name: noDelay ? 'ssh2+nodelay' : 'ssh2',
    label: noDelay ? '`ssh2` npm + setNoDelay(true)' : '`ssh2` npm, defaults',
    async run(t, iterations, warmup): Promise<Batch> {
      let methods: Methods | null = null;
      const op = async () => {
        const c = await ssh2Connect(t, noDelay);
        methods ??= c.methods;
        try {
          if (withExec) await ssh2Exec(c.conn);
        } finally {
          await ssh2Disconnect(c.conn);
        }
      };
      return { ...(await timeInProcess(iterations, warmup, op)), methods };
    },
  };
}

const C_LABEL = 'C program on the same libssh2 (blocking, TCP_NODELAY)';

export const w1: Workload = {
  id: 'W1',
  title: 'W1 per-op',
  description: 'connect + handshake + publickey auth (ed25519 key file) + exec `true` + read stdout/stderr to EOF + ' +
    'close (after the peer\'s CLOSE) + exit status + free + disconnect + free, one connection after another in a warm process',
  unit: 'connection',
  throughput: false,
  peers: [cPeer('C', C_LABEL, 'w1', ['exec']), bindingPeer(true), ssh2Peer(false, true), ssh2Peer(true, true)],
  ratios: [['binding', 'C'], ['binding', 'ssh2'], ['binding', 'ssh2+nodelay']],
  targets: [{ of: 'binding', to: 'C', max: 1.05, required: true }],
  defaults: { iterations: 200, rounds: 5 },
  quick: { iterations: 20, rounds: 1 },
};

export const w1auth: Workload = {
  id: 'W1-AUTH',
  title: 'W1-auth per-op',
  description: 'connect + handshake + publickey auth (ed25519 key file) + disconnect + free (W1 without the exec), ' +
    'one connection after another in a warm process',
  unit: 'connection',
  throughput: false,
  peers: [cPeer('C', C_LABEL, 'w1', ['auth']), bindingPeer(false), ssh2Peer(true, false)],
  ratios: [['binding', 'C'], ['binding', 'ssh2+nodelay']],
  defaults: { iterations: 200, rounds: 5 },
  quick: { iterations: 20, rounds: 1 },
};
