import { setTimeout as sleep } from 'node:timers/promises';
import { XapiError } from '../model/xapi-error.js';
import type { MethodSpec } from './method-registry.js';
import { argString } from './params.js';

export const sessionMethods: Record<string, MethodSpec> = {
  'session.login_with_password': {
    arity: [2, 4],
    session: false,
    async: false,
    run: async ({ state, host }, [user, password, _version, originator]) => {
      const delay = host.takeLoginDelay();
      if (delay > 0) await sleep(delay);
      // A pool member refuses logins and names the coordinator; clients reconnect there.
      if (!host.isCoordinator) throw new XapiError('HOST_IS_SLAVE', [host.coordinatorAddress()]);
      const username = argString(user, 'uname');
      if (username !== state.config.username || argString(password, 'pwd') !== state.config.password) {
        // Real hosts slow down password guessing the same way.
        await sleep(state.config.loginFailureDelayMs);
        throw new XapiError('SESSION_AUTHENTICATION_FAILED', [username, 'Authentication failure']);
      }
      return state.sessions.open(username, typeof originator === 'string' ? originator : '').ref;
    },
  },
  'session.logout': {
    arity: 0,
    async: false,
    run: ({ state, session }) => {
      state.sessions.close(session!.ref);
      return '';
    },
  },
  'session.local_logout': {
    arity: 0,
    async: false,
    run: ({ state, session }) => {
      state.sessions.close(session!.ref);
      return '';
    },
  },
  'session.get_this_host': { arity: 1, run: ({ host }) => host.hostRef },
  'session.get_this_user': { arity: 1, run: () => 'OpaqueRef:NULL' },
  'session.get_uuid': { arity: 1, run: ({ session }) => session!.uuid },
};
