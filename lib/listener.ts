/** `Listener`: a remote port forward (`LIBSSH2_LISTENER`, `libssh2_channel_forward_*`). */
import type { Session } from './session';
import type { NativeListener } from './native';
import { Channel } from './channel';
import { badUse, nonBlockingMisuse } from './check';

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

  /** @internal Listeners come from `session.forwardListen()`. */
  constructor(session: Session, native: NativeListener) {
    this.session = session;
    this.native = native;
    this.boundPort = native.boundPort;
  }

  /** `libssh2_channel_forward_accept()`: the next forwarded connection. */
  async forwardAccept(): Promise<Channel> {
    if (this.native.isFreed()) throw badUse('the listener has been cancelled', 'libssh2_channel_forward_accept');
    if (!this.session.getBlocking()) throw nonBlockingMisuse('libssh2_channel_forward_accept');
    return new Channel(this.session, await this.native.forwardAccept());
  }

  /**
   * `libssh2_channel_forward_cancel()`: the server stops listening; a pending `forwardAccept()`
   * rejects with `BadUseError`. Idempotent.
   */
  forwardCancel(): Promise<void> {
    return this.native.forwardCancel();
  }

  /** `await using`: cancel on scope exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.forwardCancel();
  }
}
