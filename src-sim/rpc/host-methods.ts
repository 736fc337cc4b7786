import { requireObject } from '../model/lookup.js';
import type { MethodSpec } from './method-registry.js';
import { argString } from './params.js';

export const hostMethods: Record<string, MethodSpec> = {
  // The certificate a pool member serves, as the coordinator knows it: how a client pins a member it is
  // redirected to without trusting it blindly.
  'host.get_server_certificate': {
    arity: 1,
    run: ({ state }, [host]) => {
      const ref = argString(host, 'host');
      requireObject(state.store, 'host', ref);
      return state.serverCertificates.get(ref) ?? '';
    },
  },
  'host.get_servertime': {
    arity: 1,
    run: ({ state }, [host]) => {
      requireObject(state.store, 'host', argString(host, 'host'));
      return new Date();
    },
  },
};
