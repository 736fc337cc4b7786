import { Agent, request } from 'undici';

/** A bare JSON-RPC call for benchmark set-up (login, lookups), independent of the product's client. */
export async function rpc(url: string, method: string, params: unknown[]): Promise<unknown> {
  const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
  try {
    const res = await request(new URL('/jsonrpc', url), {
      method: 'POST',
      dispatcher,
      body: JSON.stringify({ jsonrpc: '2.0', method, params, id: 1 }),
      headers: { 'content-type': 'application/json' },
    });
    const body = (await res.body.json()) as { result?: unknown; error?: unknown };
    if (body.error) throw new Error(`${method}: ${JSON.stringify(body.error)}`);
    return body.result;
  } finally {
    await dispatcher.close();
  }
}

export async function firstVm(
  url: string,
  username: string,
  password: string,
): Promise<{ session: string; ref: string; uuid: string; name: string }> {
  const session = String(await rpc(url, 'session.login_with_password', [username, password, '1.1', 'bench']));
  const vms = (await rpc(url, 'VM.get_all_records', [session])) as Record<
    string,
    { name_label: string; uuid: string; is_a_template: boolean; is_control_domain: boolean; is_a_snapshot: boolean }
  >;
  const [ref, vm] = Object.entries(vms).find(([, v]) => !v.is_a_template && !v.is_control_domain && !v.is_a_snapshot)!;
  return { session, ref, uuid: vm.uuid, name: vm.name_label };
}
