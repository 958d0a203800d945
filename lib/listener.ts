/** `Listener`: a remote port forward (`LIBSSH2_LISTENER`, `libssh2_channel_forward_*`). */
import type { Session } from './session';
import type { NativeListener } from './native';
import { Channel } from './channel';
import { badUse } from './check';
import { installNb, runOp, type Nb } from './nb';

/**
 * A port the server listens on for us, from `session.forwardListen()`. Each connection to it
 * arrives as a `Channel` from `forwardAccept()`.
 */
export class Listener {
  /** @internal */
  readonly native: NativeListener;
  /** The session this listener belongs to. */
  readonly session: Session;
  /** The port the server bound (the one asked for, or the one it chose for port 0). */
  readonly boundPort: number;

  /** Non-blocking {@link Listener.forwardAccept}: one attempt; the channel or `LIBSSH2_ERROR_EAGAIN`. */
  declare forwardAcceptNb: Nb<Listener['forwardAccept']>;
  /** Non-blocking {@link Listener.forwardCancel}: one attempt; 0 or `LIBSSH2_ERROR_EAGAIN`. */
  declare forwardCancelNb: Nb<Listener['forwardCancel']>;

  /** @internal Listeners come from `session.forwardListen()`. */
  constructor(session: Session, native: NativeListener) {
    this.session = session;
    this.native = native;
    this.boundPort = native.boundPort;
  }

  /** `libssh2_channel_forward_accept()`: the next forwarded connection. */
  forwardAccept(): Promise<Channel> {
    return runOp(this.session, 'libssh2_channel_forward_accept', () => {
      if (this.native.isFreed()) throw badUse('the listener has been cancelled', 'libssh2_channel_forward_accept');
    }, () => this.native.forwardAccept(), (n) => new Channel(this.session, n));
  }

  /**
   * `libssh2_channel_forward_cancel()`: the server stops listening; a pending `forwardAccept()`
   * rejects with `BadUseError`. Idempotent.
   */
  forwardCancel(): Promise<void> {
    return runOp(this.session, 'libssh2_channel_forward_cancel', () => undefined, () => this.native.forwardCancel(),
      undefined, true);
  }

  /** `await using`: cancel on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.forwardCancel();
  }
}

/** The `…Nb()` twins of the listener's methods. */
export const LISTENER_NB_METHODS = ['forwardAccept', 'forwardCancel'] as const;
installNb(Listener, LISTENER_NB_METHODS, (l) => l.session);
