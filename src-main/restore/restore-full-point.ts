import { ProgressSampler } from '../transfer/progress-sampler.js';
import { SluiceError, type Damage } from '../errors/sluice-error.js';
import { XvaStreamVerifier, XvaVerifyError } from '../formats/xva/xva-stream-verifier.js';
import { fullXvaFile, type FullMetadata, fullPointDisks, type BackupPoint } from '../repository/index.js';
import { Throttle } from '../transfer/throttle.js';
import type { XapiSession } from '../xapi/xapi-session.js';
import { parseTaskResultRefs } from '../xapi/xapi-records.js';
import { uploadToHost } from './disk-upload.js';
import type { RestoreOptions } from './restore-options.js';
import { moveImportedDisks, planFullPointPlacement } from './full-point-placement.js';
import { CreatedObjects } from './vm-recreate.js';
import { readXvaChecksumFile, unreadableXvaChecksum, xvaChecksumMismatch } from '../repository/index.js';

/**
 * Restores a full point: the XVA goes to PUT /import as it is stored (the host reads zstd or gzip itself),
 * checked on the way: every chunk checksum of a plain XVA before its bytes leave, and the whole file against
 * its checksum file before the body is ended, so a damaged point never completes an import. The host rolls
 * back a failed import itself; whatever it reports as made is destroyed too. Disks wanted on other SRs than
 * the one imported onto are then moved there (full-point-placement.ts).
 */
export async function restoreFullPoint(xapi: XapiSession, point: BackupPoint, opts: RestoreOptions) {
  const meta = point.metadata as FullMetadata;
  const name = opts.name ?? String(meta.vm['name_label'] ?? point.vmName);
  const context = { host: new URL(xapi.url).host, vm: name, point: point.id };
  const { key, path: xva, size, zstd, compressed } = await fullXvaFile(point);
  const verifier = compressed ? undefined : await XvaStreamVerifier.create();
  const checksum = await readXvaChecksumFile(point.remote, key);
  if (checksum.state === 'unreadable') {
    // As verify says it, before anything reaches the host: skipping it would leave a zstd XVA unchecked.
    const m = unreadableXvaChecksum(`${point.vmName} ${point.id}`, checksum.path, compressed);
    throw new SluiceError('REMOTE_ERROR', m.message, {
      hint: m.hint,
      context: { ...context, file: m.file },
      damage: { kind: 'checksum-format', file: m.file },
    });
  }
  const hash = checksum.state === 'present' ? checksum.hash() : undefined;
  const damaged = (message: string, damage: Omit<Damage, 'file'>, extra: Record<string, string>, cause?: unknown) =>
    new SluiceError('REMOTE_ERROR', `The backup ${point.vmName} ${point.id} is damaged: ${message}`, {
      hint: "This point cannot be restored safely; use another point, and check the remote's disk.",
      context: { ...context, ...extra },
      damage: { ...damage, file: xva },
      cause,
    });

  const sampler = new ProgressSampler(
    { runId: opts.runId, vm: { uuid: point.vmUuid, name }, disk: null, spoolCapBytes: opts.spoolCapBytes },
    opts.onProgress,
  );
  const throttle = opts.speedLimitBytesPerSec ? new Throttle(opts.speedLimitBytesPerSec) : undefined;
  const created = new CreatedObjects(xapi, opts.runId);
  let seen = 0;
  const finalChecks = () => {
    try {
      verifier?.finish();
    } catch (err) {
      if (err instanceof XvaVerifyError) throw damaged(err.message, { kind: err.damage, offset: err.offset }, {}, err);
      throw err;
    }
    if (checksum.state === 'present' && hash && hash.digest('hex') !== checksum.expectedHex) {
      const m = xvaChecksumMismatch(`${point.vmName} ${point.id}`, checksum.path, compressed);
      throw new SluiceError('REMOTE_ERROR', m.message, {
        hint: m.hint,
        context: { ...context, ...m.context },
        damage: { kind: 'file-checksum', file: m.file },
      });
    }
  };
  sampler.start();
  try {
    // Per-disk SRs need the disk list (read from the XVA's head) to know where each disk goes; a zstd XVA
    // cannot be read here, so its disks are named by position.
    const needsDisks = Object.keys(opts.diskSrs ?? {}).length > 0 && !zstd;
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
        source: (await point.remote.createReadStream(key)) as AsyncIterable<Buffer>,
        length: size,
        inspect: (chunk) => {
          hash?.update(chunk);
          try {
            verifier?.update(chunk);
          } catch (err) {
            if (err instanceof XvaVerifyError)
              throw damaged(
                `${err.message}${err.entry ? ` in ${err.entry}` : ''} (byte ${err.offset})`,
                { kind: err.damage, offset: err.offset },
                err.entry ? { entry: err.entry } : {},
                err,
              );
            throw err;
          }
          seen += chunk.length;
          // The whole-file checks run on the last chunk, before it leaves: once the host has every byte of
          // the Content-Length it finishes the import whatever we do next.
          if (seen >= size) finalChecks();
        },
        beforeFinish: () => {
          if (seen < size) finalChecks();
        },
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
    await moveImportedDisks(xapi, vmRef, placement, created, opts, sampler, context);
    await created.keep();
    return { vmRef, name, bytes: size, sampler };
  } catch (err) {
    sampler.stop(opts.signal?.aborted ? 'cancelled' : 'failed');
    await created.destroy(opts.log);
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
