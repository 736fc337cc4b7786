import type { NodeEngine } from '../../engine/engine-node.js';
import { SluiceError } from '../../errors/sluice-error.js';
import { normaliseUrl } from '../../xapi/xapi-session.js';
import { startDemoPool } from './demo-pool.js';

/** How `serve --demo` names its pool in the settings, so that the next start finds it again. */
export const DEMO_POOL_LABEL = 'Small shop (demo)';

/**
 * The demo pool of `serve --demo`, started and configured in the engine: added, its certificate trusted, so
 * the first screen already has VMs to back up. The simulator makes a new certificate at every start: a data
 * folder that kept the demo pool from an earlier start gets it on the same port (when free) with the new
 * certificate approved, so its jobs and backups still name the same pool.
 */
export async function startConfiguredDemoPool(engine: NodeEngine): ReturnType<typeof startDemoPool> {
  const before = engine.ctx.settings.get().hosts.find((h) => h.label === DEMO_POOL_LABEL);
  const port = before ? Number(new URL(before.url).port) : 0;
  const demo = port ? await startDemoPool({ port }).catch(() => startDemoPool()) : await startDemoPool();
  try {
    if (before && before.url === normaliseUrl(demo.url))
      await dispatch(engine, 'hosts.approveCertificate', { hostId: before.id, fingerprint: demo.fingerprint });
    else
      await dispatch(engine, 'hosts.add', {
        label: before ? `${DEMO_POOL_LABEL} ${normaliseUrl(demo.url)}` : DEMO_POOL_LABEL,
        url: demo.url,
        username: demo.username,
        password: demo.password,
        trustedFingerprint: demo.fingerprint,
      });
  } catch (err) {
    await demo.stop();
    throw err;
  }
  return demo;
}

async function dispatch(engine: NodeEngine, channel: string, payload: unknown): Promise<void> {
  const r = await engine.dispatcher.dispatch(channel, payload);
  if (!r.ok)
    throw new SluiceError(r.error.code, `Could not add the demo pool: ${r.error.message}`, {
      hint: r.error.hint ?? 'Start without --demo, or with another --data-dir.',
      context: r.error.context,
    });
}
