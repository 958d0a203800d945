/**
 * How to open another connection like a session's own (internal): `connect()` records it, and
 * `fastGet`/`fastPut` with `connections > 1` use it for their extra sessions.
 */
import type { Session } from './session';

const openers = new WeakMap<Session, () => Promise<Session>>();

/** Records how to connect again like `session` was (connect() without a caller's socket). */
export function setReconnect(session: Session, open: () => Promise<Session>): void {
  openers.set(session, open);
}

/** The recorded way to connect again like `session`, if any. */
export function getReconnect(session: Session): (() => Promise<Session>) | undefined {
  return openers.get(session);
}
