import { encodeValue } from '../formats/xmlrpc-value.js';
import type { PoolState } from '../model/pool-state.js';
import type { Session } from '../model/sessions.js';
import type { XapiValue } from '../model/values.js';
import { XapiError } from '../model/xapi-error.js';
import type { CallContext, HostRole, MethodRegistry, MethodSpec } from './method-registry.js';
import { toXmlRpcWire } from './wire.js';

const ASYNC_PREFIX = 'Async.';

/**
 * Runs one RPC call the way XAPI validates it: unknown method, then parameter count, then session, then the
 * method itself (which checks its handles). `Async.X.y` validates the same way, then returns a task whose
 * result is the XML-RPC encoding of y's result (also under JSON-RPC).
 */
export async function dispatch(
  registry: MethodRegistry,
  state: PoolState,
  host: HostRole,
  method: string,
  params: unknown[],
): Promise<XapiValue> {
  const isAsync = method.startsWith(ASYNC_PREFIX);
  const name = isAsync ? method.slice(ASYNC_PREFIX.length) : method;
  const spec = registry.lookup(name);
  if (!spec || (isAsync && spec.async === false)) throw new XapiError('MESSAGE_METHOD_UNKNOWN', [method]);

  const needsSession = spec.session !== false;
  const [min, max] = typeof spec.arity === 'number' ? [spec.arity, spec.arity] : spec.arity;
  const extra = needsSession ? 1 : 0;
  if (params.length < min + extra || params.length > max + extra) {
    throw new XapiError('MESSAGE_PARAMETER_COUNT_MISMATCH', [method, max + extra, params.length]);
  }

  let session: Session | undefined;
  if (needsSession) {
    const ref = typeof params[0] === 'string' ? params[0] : '';
    session = state.sessions.get(ref);
    if (!session) throw new XapiError('SESSION_INVALID', [ref]);
  }
  const args = params.slice(extra);
  if (!isAsync) return spec.run({ state, host, session }, args);

  const task = state.tasks.create(method);
  const signal = state.tasks.begin(task);
  setImmediate(() => void runAsync(spec, { state, host, session, task, signal }, args));
  return task;
}

async function runAsync(spec: MethodSpec, ctx: CallContext & { task: string }, args: unknown[]): Promise<void> {
  try {
    const result = await spec.run(ctx, args);
    ctx.state.tasks.succeed(ctx.task, result === '' ? '' : encodeValue(toXmlRpcWire(result)));
  } catch (error) {
    ctx.state.tasks.fail(ctx.task, error);
  }
}
