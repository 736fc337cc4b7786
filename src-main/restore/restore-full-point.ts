import { SluiceError } from '../errors/sluice-error.js';
import { fullXvaFile, type FullMetadata, fullPointDisks, type BackupPoint } from '../repository/index.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { parseTaskResultRefs } from '../xapi/xapi-records.js';
import { uploadToHost } from './disk-upload.js';
import type { RestoreOptions } from './restore-options.js';
import { moveImportedDisks, planFullPointPlacement } from './full-point-placement.js';
import { abandonRestoreRun, startRestoreRun } from './restore-run.js';
import type { CreatedObjects } from './vm-recreate.js';
import { xvaUploadChecks } from './xva-upload-checks.js';
import { RESTORED_TAG, restoredVmName } from '../../src-shared/restored-vm.js';

/**
 * Restores a full point: the XVA goes to PUT /import as it is stored (the host reads zstd or gzip itself),
 * checked on the way: every chunk checksum of a plain XVA before its bytes leave, and the whole file against
 * its checksum file before the body is ended, so a damaged point never completes an import. The host rolls
 * back a failed import itself; whatever it reports as made is destroyed too. Disks wanted on other SRs than
 * the one imported onto are then moved there (full-point-placement.ts).
 */
export async function restoreFullPoint(xapi: XapiSession, point: BackupPoint, opts: RestoreOptions) {
  const meta = point.metadata as FullMetadata;
  const name = opts.name ?? restoredVmName(String(meta.vm['name_label'] ?? point.vmName), point.timestamp);
  const context = { host: new URL(xapi.url).host, vm: name, point: point.id };
  const file = await fullXvaFile(point);
  const checks = await xvaUploadChecks(point, file, context);
  const run = startRestoreRun(xapi, opts, { uuid: point.vmUuid, name }, null);
  const { sampler, throttle, created } = run;
  try {
    // Per-disk SRs need the disk list (read from the XVA's head) to know where each disk goes; a zstd XVA
    // cannot be read here, so its disks are named by position.
    const needsDisks = Object.keys(opts.diskSrs ?? {}).length > 0 && !file.zstd;
    const placement = await planFullPointPlacement(
      xapi,
      point,
      needsDisks ? (await fullPointDisks(point)).disks : undefined,
      opts,
      context,
    );
    const sr = placement.importSr;
    sampler.setPhase('transfer');
    const result = await uploadToHost(
      xapi,
      {
        path: '/import',
        query: { sr_id: sr.ref },
        source: (await point.remote.createReadStream(file.key)) as AsyncIterable<Buffer>,
        length: file.size,
        inspect: checks.inspect,
        beforeFinish: checks.beforeFinish,
        onRefusedResult: async (result) => recordImported(xapi, result, created),
        label: 'Sluice restore',
        context,
      },
      opts,
      sampler,
      throttle,
    );
    const vmRef = await recordImported(xapi, result, created);
    if (!vmRef) throw new SluiceError('HOST_ERROR', 'The host finished the import but named no VM.', { context });
    await xapi.call('VM.set_name_label', vmRef, name);
    await xapi.call('VM.add_tags', vmRef, RESTORED_TAG);
    await moveImportedDisks(xapi, vmRef, placement, created, opts, sampler, context);
    await created.keep();
    return { vmRef, name, bytes: file.size, sampler };
  } catch (err) {
    await abandonRestoreRun(run, opts);
    throw err;
  }
}

/** What an import made (its VM and the VM's disks), recorded so that a failure or a refusal removes it all. */
async function recordImported(xapi: XapiSession, result: string, created: CreatedObjects): Promise<string | undefined> {
  const vmRef = parseTaskResultRefs(result)[0];
  if (!vmRef) return undefined;
  // The disks before the VM: a kill in between leaves the import's task, which names the VM (owned-tasks.ts).
  for (const vbd of await xapi.call<string[]>('VM.get_VBDs', vmRef)) {
    const vdi = await xapi.call<string>('VBD.get_VDI', vbd);
    if (vdi !== 'OpaqueRef:NULL' && (await xapi.call<string>('VBD.get_type', vbd)) === 'Disk')
      await created.adopt('VDI', vdi);
  }
  await created.adopt('VM', vmRef);
  return vmRef;
}
