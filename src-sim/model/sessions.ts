import { newRef, newUuid } from './refs.js';

export interface Session {
  readonly ref: string;
  readonly uuid: string;
  readonly username: string;
  readonly originator: string;
  readonly created: Date;
}

/** Logged-in sessions. A ref that is not here (never issued, logged out, or pool restarted) is stale. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();

  open(username: string, originator = ''): Session {
    const session: Session = { ref: newRef(), uuid: newUuid(), username, originator, created: new Date() };
    this.sessions.set(session.ref, session);
    return session;
  }

  get(ref: string): Session | undefined {
    return this.sessions.get(ref);
  }

  close(ref: string): void {
    this.sessions.delete(ref);
  }

  /** Forgets every session, as a toolstack restart does (clients then see SESSION_INVALID). */
  closeAll(): void {
    this.sessions.clear();
  }

  get size(): number {
    return this.sessions.size;
  }
}
