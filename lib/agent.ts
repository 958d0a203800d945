/**
 * `Agent`: an SSH agent connection (`LIBSSH2_AGENT`, `libssh2_agent_*`). libssh2 talks to the
 * agent's local socket in blocking mode, so these calls run on the threadpool; they are async
 * without `…Nb()` twins.
 */
import type { Session } from './session';
import type { NativeAgent } from './native';
import { checkOptString, checkString, nonBlockingMisuse, toBuffer } from './check';
import { AuthenticationFailedError } from './errors';

/** An identity of the agent (`struct libssh2_agent_publickey`). */
export interface AgentIdentity {
  /** The public key blob (SSH wire format). */
  blob: Buffer;
  comment: string;
  /** The key type from the blob, e.g. 'ssh-ed25519'. */
  type: string;
}

/** An SSH agent, from `session.agentInit()`; it uses the session's allocator and keeps it alive. */
export class Agent {
  /** @internal */
  readonly native: NativeAgent;
  readonly session: Session;

  /** @internal */
  constructor(session: Session, native: NativeAgent) {
    this.session = session;
    this.native = native;
  }

  #run<T>(fn: string, body: () => Promise<T>): Promise<T> {
    try {
      if (!this.session.getBlocking()) throw nonBlockingMisuse(fn);
      return body();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** `libssh2_agent_connect()`: to `$SSH_AUTH_SOCK`, or `setIdentityPath()`'s socket. */
  connect(): Promise<void> {
    return this.#run('libssh2_agent_connect', () => this.native.connect());
  }

  /** `libssh2_agent_disconnect()`. */
  disconnect(): Promise<void> {
    return this.#run('libssh2_agent_disconnect', () => this.native.disconnect());
  }

  /** `libssh2_agent_list_identities()`: fetches the identities; read them with `getIdentities()`. */
  listIdentities(): Promise<void> {
    return this.#run('libssh2_agent_list_identities', () => this.native.listIdentities());
  }

  /** `libssh2_agent_get_identity()` over all identities of the last `listIdentities()`. */
  getIdentities(): AgentIdentity[] {
    return this.native.getIdentities();
  }

  /** `libssh2_agent_userauth()`: public-key authentication with one identity. */
  userauth(username: string, identity: AgentIdentity): Promise<void> {
    return this.#run('libssh2_agent_userauth', async () => {
      checkString(username, 'username');
      return this.native.userauth(username, identity);
    });
  }

  /**
   * `libssh2_agent_sign()`: the signature over `data` (the bytes only, without the SSH
   * "string algorithm, string signature" wrapping). `method` defaults to the key type; for RSA
   * keys pass 'rsa-sha2-256' or 'rsa-sha2-512'.
   */
  sign(identity: AgentIdentity, data: Buffer | string, method?: string): Promise<Buffer> {
    return this.#run('libssh2_agent_sign', async () => {
      checkOptString(method, 'method');
      return this.native.sign(identity, toBuffer(data, 'data'), method);
    });
  }

  /** `libssh2_agent_get_identity_path()`: the socket path set, or null. */
  getIdentityPath(): string | null {
    return this.native.getIdentityPath();
  }

  /** `libssh2_agent_set_identity_path()`: the agent socket to use instead of `$SSH_AUTH_SOCK`. */
  setIdentityPath(path: string | null): void {
    checkOptString(path, 'path');
    this.native.setIdentityPath(path ?? undefined);
  }

  /** `libssh2_agent_free()` (disconnects first). Idempotent; also happens on garbage collection. */
  free(): void {
    this.native.free();
  }

  /** `await using agent = session.agentInit()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.free();
  }
}

/**
 * `session.userauthAgent(user)` as ssh2-python does: connects to the agent, lists its identities
 * and tries each until one authenticates. Rejects with the last failure (an
 * `AuthenticationFailedError` when the agent holds no key). `agentPath` replaces
 * `$SSH_AUTH_SOCK` (read from `process.env`).
 */
export async function userauthAgent(session: Session, username: string, agentPath?: string): Promise<void> {
  const agent = session.agentInit();
  try {
    // Node's process.env, not the C environment (they differ when process.env was replaced).
    const sock = agentPath ?? process.env.SSH_AUTH_SOCK;
    if (sock !== undefined) agent.setIdentityPath(sock);
    await agent.connect();
    await agent.listIdentities();
    let last: unknown = new AuthenticationFailedError(`the agent${sock ? ` at ${sock}` : ''} has no identities`, 'libssh2_agent_userauth');
    for (const id of agent.getIdentities()) {
      try {
        await agent.userauth(username, id);
        return;
      } catch (e) {
        last = e;
      }
    }
    throw last;
  } finally {
    agent.free();
  }
}
