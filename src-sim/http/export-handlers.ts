import { rawExport } from '../formats/raw-export.js';
import { vhdExport } from '../formats/vhd-export.js';
import { xvaExport } from '../formats/xva-export.js';
import type { TransferFaults } from '../fault-set.js';
import { refOrUuid, str } from '../model/lookup.js';
import { planXvaExport } from '../model/xva-metadata.js';
import { XapiError } from '../model/xapi-error.js';
import { authenticate } from './auth.js';
import { parseCompression } from './compression.js';
import type { HttpExchange } from './exchange.js';
import { runExport } from './export-stream.js';
import type { HostContext } from './host-context.js';
import { respond } from './raw-response.js';
import { beginTransferTask } from './transfer-task.js';

const NO_FAULTS: TransferFaults = { embeddedError: false, redirect: false };

function lookup<T>(find: () => T): T | undefined {
  try {
    return find();
  } catch {
    return undefined;
  }
}

function redirectTo(ctx: HostContext, ex: HttpExchange): string {
  return `${ctx.peerBaseUrl()}${ex.path}?${ex.query.toString()}`;
}

/** GET /export (withDisks) and GET /export_metadata: the XVA of a halted VM or of a snapshot. */
export async function handleVmExport(ctx: HostContext, ex: HttpExchange, withDisks: boolean): Promise<void> {
  const { state } = ctx;
  const auth = authenticate(ex, state);
  if (!auth) return respond.unauthorized(ex.socket);
  try {
    const vm = lookup(() => refOrUuid(state.store, 'VM', ex.query.get('ref') ?? ex.query.get('uuid') ?? ''));
    if (!vm) return respond.notFound(ex.socket);
    const compression = parseCompression(ex.query.get('use_compression'));
    if (!compression) return respond.badRequest(ex.socket);
    const faults = withDisks ? ctx.faults.takeForExport('export') : NO_FAULTS;
    if (faults.redirect) return respond.redirect(ex.socket, redirectTo(ctx, ex));

    const fields = state.store.fields('VM', vm)!;
    const kind = withDisks ? 'export' : 'export_metadata';
    const task = beginTransferTask(ctx, ex, kind, `Export of VM: ${str(fields, 'name_label')}`, str(fields, 'uuid'));
    const power = str(fields, 'power_state');
    if (withDisks && power !== 'Halted') {
      task.fail(new XapiError('VM_BAD_POWER_STATE', [vm, 'halted', power.toLowerCase()]));
      return respond.internalError(ex.socket, task.ref);
    }
    const plan = planXvaExport(state, vm, withDisks);
    await runExport(ex, task, faults, {
      statusVersion: '1.0',
      contentType: 'application/octet-stream',
      totalBytes: plan.totalBytes,
      compression,
      source: (pace) => xvaExport(plan.ovaXml, plan.disks, { ...pace, oldHost: state.config.oldHost }),
    });
  } finally {
    if (auth.transient) state.sessions.close(auth.session.ref);
  }
}

/** GET /export_raw_vdi?vdi=&format=raw|vhd[&base=]: one disk, as vhd-tool streams it. */
export async function handleRawVdiExport(ctx: HostContext, ex: HttpExchange): Promise<void> {
  const { state } = ctx;
  const auth = authenticate(ex, state);
  if (!auth) return respond.unauthorized(ex.socket);
  try {
    const vdi = lookup(() => refOrUuid(state.store, 'VDI', ex.query.get('vdi') ?? ''));
    const baseParam = ex.query.get('base');
    const base = baseParam ? lookup(() => refOrUuid(state.store, 'VDI', baseParam)) : undefined;
    if (!vdi || (baseParam && !base)) return respond.notFound(ex.socket);
    const format = ex.query.get('format') ?? 'raw';
    if (format !== 'raw' && format !== 'vhd') return respond.badRequest(ex.socket);
    const faults = ctx.faults.takeForExport('export_raw_vdi');
    if (faults.redirect) return respond.redirect(ex.socket, redirectTo(ctx, ex));

    const fields = state.store.fields('VDI', vdi)!;
    const task = beginTransferTask(
      ctx,
      ex,
      'export_raw_vdi',
      `export_raw_vdi ${str(fields, 'name_label')}`,
      str(fields, 'uuid'),
    );
    const disk = state.disks.get(vdi);
    const baseDisk = base ? state.disks.get(base) : undefined;
    if (str(fields, 'type') === 'cbt_metadata' || !disk || (base && !baseDisk)) {
      task.fail(new XapiError('VDI_INCOMPATIBLE_TYPE', [vdi, str(fields, 'type')]));
      return respond.internalError(ex.socket, task.ref);
    }
    const baseUuid = base ? str(state.store.fields('VDI', base)!, 'uuid') : undefined;
    await runExport(ex, task, faults, {
      statusVersion: '1.1',
      contentType: format === 'vhd' ? 'application/vhd' : 'application/octet-stream',
      totalBytes: disk.size,
      source: (pace) =>
        format === 'vhd'
          ? vhdExport(disk, {
              uuid: str(fields, 'uuid'),
              rateLimit: pace.rateLimit,
              signal: pace.signal,
              ...(baseDisk ? { base: baseDisk, parentUuid: baseUuid, parentName: `${baseUuid}.vhd` } : {}),
            })
          : rawExport(disk, { rateLimit: pace.rateLimit, signal: pace.signal }),
    });
  } finally {
    if (auth.transient) state.sessions.close(auth.session.ref);
  }
}
