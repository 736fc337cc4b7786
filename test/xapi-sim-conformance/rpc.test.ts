import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, jsonRpc, login, xmlRpc, XapiFailure } from './support/clients.js';
import { startTestPool, type TestPool } from './support/pool.js';

let pool: TestPool;
beforeAll(async () => {
  pool = await startTestPool();
});
afterAll(() => pool?.sim.stop());

const failure = async (p: Promise<unknown>): Promise<XapiFailure> => {
  try {
    await p;
  } catch (error) {
    if (error instanceof XapiFailure) return error;
    throw error;
  }
  throw new Error('the call succeeded');
};

describe('JSON-RPC', () => {
  it('answers v2 envelopes with result or error {code 1, message, data}', async () => {
    const ok = await jsonRpc(pool.sim.url, 'pool.get_all', [pool.session]);
    expect(ok.jsonrpc).toBe('2.0');
    expect(ok.id).toBe(7);
    expect(ok.result).toEqual([expect.stringMatching(/^OpaqueRef:[0-9a-f-]{36}$/)]);
    const bad = await jsonRpc(pool.sim.url, 'VM.get_record', [pool.session, 'OpaqueRef:missing']);
    expect(bad.error).toEqual({ code: 1, message: 'HANDLE_INVALID', data: ['VM', 'OpaqueRef:missing'] });
  });

  it('answers v1 envelopes (no "jsonrpc") with result and error null | [code, …params]', async () => {
    const ok = await jsonRpc(pool.sim.url, 'pool.get_all', [pool.session], 1);
    expect(ok).toEqual({ result: [expect.any(String)], error: null, id: 7 });
    const bad = await jsonRpc(pool.sim.url, 'VM.get_by_uuid', [pool.session, 'nope'], 1);
    expect(bad.error).toEqual(['UUID_INVALID', 'VM', 'nope']);
  });

  it('sends int64 as numbers and datetimes as compact ISO strings', async () => {
    const vdis = await call<Record<string, Record<string, unknown>>>(pool.sim.url, 'VDI.get_all_records', pool.session);
    const vdi = Object.values(vdis)[0]!;
    expect(vdi['virtual_size']).toBe(8 * 1024 * 1024);
    expect(vdi['snapshot_time']).toBe('19700101T00:00:00Z');
  });
});

describe('XML-RPC', () => {
  it('wraps results in {Status, Value}, int64 untyped, booleans 1|0, datetimes as dateTime.iso8601', async () => {
    const vm = await pool.vmRef('vm-01');
    const { xml, value } = await xmlRpc(pool.sim.url, 'VM.get_record', [pool.session, vm]);
    expect(value['Status']).toBe('Success');
    const record = value['Value'] as Record<string, unknown>;
    expect(record['name_label']).toBe('vm-01');
    // Untyped: the client sees a string.
    expect(record['memory_static_max']).toBe(String(1024 * 1024 * 1024));
    expect(xml).toContain(`<name>memory_static_max</name><value>${1024 * 1024 * 1024}</value>`);
    expect(xml).toContain('<name>is_a_template</name><value><boolean>0</boolean></value>');
    expect(xml).toContain(
      '<name>snapshot_time</name><value><dateTime.iso8601>19700101T00:00:00Z</dateTime.iso8601></value>',
    );
    expect(xml).toContain('<name>HVM_shadow_multiplier</name><value><double>1</double></value>');
  });

  it('reports failures as Status Failure with ErrorDescription, also on /RPC2', async () => {
    const { value } = await xmlRpc(pool.sim.url, 'VM.get_record', [pool.session, 'OpaqueRef:NULL'], '/RPC2');
    expect(value).toEqual({ Status: 'Failure', ErrorDescription: ['HANDLE_INVALID', 'VM', 'OpaqueRef:NULL'] });
  });

  it('returns "" for void methods', async () => {
    const vm = await pool.vmRef('vm-02');
    const { value } = await xmlRpc(pool.sim.url, 'VM.add_to_other_config', [pool.session, vm, 'xml', 'yes']);
    expect(value).toEqual({ Status: 'Success', Value: '' });
  });
});

describe('API errors', () => {
  it('MESSAGE_METHOD_UNKNOWN and MESSAGE_PARAMETER_COUNT_MISMATCH [method, expected, received]', async () => {
    expect((await failure(call(pool.sim.url, 'VM.frobnicate', pool.session))).params).toEqual(['VM.frobnicate']);
    const mismatch = await failure(call(pool.sim.url, 'VM.get_record', pool.session));
    expect([mismatch.code, ...mismatch.params]).toEqual([
      'MESSAGE_PARAMETER_COUNT_MISMATCH',
      'VM.get_record',
      '2',
      '1',
    ]);
  });

  it('UUID_INVALID for an unknown uuid, and get_by_uuid / field getters for a known one', async () => {
    const vm = await pool.vmRef('vm-01');
    const uuid = await call<string>(pool.sim.url, 'VM.get_uuid', pool.session, vm);
    expect(await call(pool.sim.url, 'VM.get_by_uuid', pool.session, uuid)).toBe(vm);
    expect(await call(pool.sim.url, 'VM.get_power_state', pool.session, vm)).toBe('Halted');
    expect((await failure(call(pool.sim.url, 'VDI.get_by_uuid', pool.session, uuid))).code).toBe('UUID_INVALID');
  });

  it('other_config add/remove (MAP_DUPLICATE_KEY on a present key) and tags', async () => {
    const vm = await pool.vmRef('vm-01');
    await call(pool.sim.url, 'VM.add_to_other_config', pool.session, vm, 'sluice:base', 'yes');
    const dup = await failure(call(pool.sim.url, 'VM.add_to_other_config', pool.session, vm, 'sluice:base', 'again'));
    expect([dup.code, ...dup.params]).toEqual(['MAP_DUPLICATE_KEY', 'VM', 'other_config', vm, 'sluice:base']);
    await call(pool.sim.url, 'VM.remove_from_other_config', pool.session, vm, 'sluice:base');
    expect(await call(pool.sim.url, 'VM.get_other_config', pool.session, vm)).toEqual({});
    await call(pool.sim.url, 'VM.add_tags', pool.session, vm, 'xo:no-bak');
    expect(await call(pool.sim.url, 'VM.get_tags', pool.session, vm)).toEqual(['xo:no-bak']);
    await call(pool.sim.url, 'VM.remove_tags', pool.session, vm, 'xo:no-bak');
    expect(await call(pool.sim.url, 'VM.get_tags', pool.session, vm)).toEqual([]);
  });

  it('has the pool, hosts and SRs a backup tool reads', async () => {
    const [poolRecord] = Object.values(
      await call<Record<string, Record<string, unknown>>>(pool.sim.url, 'pool.get_all_records', pool.session),
    );
    const hosts = await call<Record<string, Record<string, unknown>>>(
      pool.sim.url,
      'host.get_all_records',
      pool.session,
    );
    expect(Object.keys(hosts)).toHaveLength(2);
    const master = hosts[poolRecord!['master'] as string]!;
    expect(master['address']).toBe(new URL(pool.sim.url).host);
    expect(master['API_version_major']).toBe(2);
    expect(await call(pool.sim.url, 'host.get_API_version_minor', pool.session, poolRecord!['master'])).toBe(21);
    const srs = await call<Record<string, Record<string, unknown>>>(pool.sim.url, 'SR.get_all_records', pool.session);
    const defaultSr = srs[poolRecord!['default_SR'] as string]!;
    expect(defaultSr['physical_size']).toBeGreaterThan(0);
    expect(defaultSr['physical_utilisation']).toBeGreaterThan(0);
    expect(defaultSr['VDIs']).toHaveLength(2);
  });
});

describe('sessions', () => {
  it('refuses bad credentials with SESSION_AUTHENTICATION_FAILED after the configured delay', async () => {
    const started = Date.now();
    const error = await failure(login(pool.sim.url, pool.sim.username, 'wrong'));
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect([error.code, ...error.params]).toEqual([
      'SESSION_AUTHENTICATION_FAILED',
      pool.sim.username,
      'Authentication failure',
    ]);
  });

  it('answers SESSION_INVALID [ref] after logout and after the sessions were dropped', async () => {
    const session = await login(pool.sim.url, pool.sim.username, pool.sim.password);
    await call(pool.sim.url, 'session.logout', session);
    const stale = await failure(call(pool.sim.url, 'VM.get_all', session));
    expect([stale.code, ...stale.params]).toEqual(['SESSION_INVALID', session]);

    const other = await login(pool.sim.url, pool.sim.username, pool.sim.password);
    pool.sim.control.invalidateSessions();
    expect((await failure(call(pool.sim.url, 'VM.get_all', other))).code).toBe('SESSION_INVALID');
    pool.session = await login(pool.sim.url, pool.sim.username, pool.sim.password);
  });

  it('the second host answers login with HOST_IS_SLAVE [coordinator address]', async () => {
    const error = await failure(login(pool.sim.secondHostUrl, pool.sim.username, pool.sim.password));
    expect([error.code, ...error.params]).toEqual(['HOST_IS_SLAVE', new URL(pool.sim.url).host]);
  });

  it('slow-login delays the next login only (one-shot fault)', async () => {
    pool.sim.control.addFault('slow-login=300,times=1');
    let started = Date.now();
    await login(pool.sim.url, pool.sim.username, pool.sim.password);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    started = Date.now();
    await login(pool.sim.url, pool.sim.username, pool.sim.password);
    expect(Date.now() - started).toBeLessThan(250);
  });
});

describe('what Xen Orchestra calls, on both wires', () => {
  // The sessions suite above drops every session: log in afresh.
  const session = (): Promise<string> => login(pool.sim.url, pool.sim.username, pool.sim.password);

  it('system.listMethods: no session, every synchronous method name; over XML-RPC the bare array', async () => {
    const names = await call<string[]>(pool.sim.url, 'system.listMethods');
    for (const name of ['VM.get_record', 'PIF.get_all_records', 'event.inject', 'VM.update_allowed_operations'])
      expect(names).toContain(name);
    expect(names.filter((n) => n.startsWith('Async.') || n.startsWith('system.'))).toEqual([]);
    const { xml, value } = await xmlRpc(pool.sim.url, 'system.listMethods', []);
    expect(xml).not.toContain('Status');
    expect(value).toEqual(names);
  });

  it('event.inject(class, ref): a token after which event.from returns that object', async () => {
    const s = await session();
    const [poolRef] = await call<string[]>(pool.sim.url, 'pool.get_all', s);
    const { value } = await xmlRpc(pool.sim.url, 'event.inject', [s, 'pool', poolRef]);
    expect(value['Status']).toBe('Success');
    const token = await call<string>(pool.sim.url, 'event.inject', s, 'pool', poolRef);
    expect(token > String(value['Value'])).toBe(true);
    const from = await call<{ events: Array<Record<string, unknown>> }>(
      pool.sim.url,
      'event.from',
      s,
      ['pool'],
      value['Value'],
      1.0,
    );
    expect(from.events).toEqual([expect.objectContaining({ class: 'pool', operation: 'mod', ref: poolRef })]);
    const bad = await failure(call(pool.sim.url, 'event.inject', s, 'VM', poolRef));
    expect([bad.code, ...bad.params]).toEqual(['HANDLE_INVALID', 'VM', poolRef]);
  });

  it('VM.update_allowed_operations(vm): void on both wires, HANDLE_INVALID for an unknown VM', async () => {
    const s = await session();
    const [vm] = await call<string[]>(pool.sim.url, 'VM.get_by_name_label', s, 'vm-01');
    expect(await call(pool.sim.url, 'VM.update_allowed_operations', s, vm)).toBe('');
    const { value } = await xmlRpc(pool.sim.url, 'VM.update_allowed_operations', [s, vm]);
    expect(value).toEqual({ Status: 'Success', Value: '' });
    const bad = await failure(call(pool.sim.url, 'VM.update_allowed_operations', s, 'OpaqueRef:x'));
    expect(bad.code).toBe('HANDLE_INVALID');
  });
});
