import { describeFsError } from '../errors/fs-errors.js';
import type { BackupMetadata, FullMetadata } from './backup-metadata.js';
import type { Remote, RemoteUpload } from '../remotes/remote.js';
import { digestsFileText, digestsPathOf, type VhdDigestCollector } from '../formats/vhd/vhd-block-digests.js';
import { VhdFileReader } from '../formats/vhd/vhd-file-reader.js';
import { joinKey } from '../remotes/remote-key.js';
import { collapseUnreferencedVhds, type CollapseOptions } from './chain-collapser.js';
import { cleanFullBackupFolder, type CleanReport } from './full-point-cleaner.js';
import { heldByUnreadable, listVmPoints, type BackupPoint, type UnreadableMetadata } from './repository-reader.js';
import { formatTimestamp, isTemporaryName, parseTimestamp } from './repository-layout.js';
import { referencedVhds } from './point-file-keys.js';
import { baseName, namedFileKey, parentKey, pointFileKeys, remoteOf, vmFolderKey } from './repository-keys.js';
import { resolveChain, scanVhdFolder } from './vhd-folder-scan.js';
import { lockVmFolder } from './vm-folder-lock.js';
import { refuseDeltaWithoutVhdFiles } from './delta-layout-support.js';

/**
 * One VM's backups in a repository (XO's `xo-vm-backups/<vmUuid>/`), as the backup, clean-up and delete code
 * use them: its lock, its points, the leftovers of runs that died, new points (full: an XVA and its checksum;
 * delta: a VHD per disk), each committed by its metadata, written last. Callers name points and disks; only
 * this folder knows where their files are.
 */
export class BackupFolder {
  private readonly remote: Remote;
  private readonly vmKey: string;

  private constructor(
    private readonly root: string,
    readonly vmUuid: string,
  ) {
    this.remote = remoteOf(root);
    this.vmKey = vmFolderKey(vmUuid);
  }

  /**
   * The repository's root must already be there: if a share is not mounted, its mount point must not quietly
   * fill up with folders on the local disk.
   */
  static async open(root: string, vmUuid: string): Promise<BackupFolder> {
    const folder = new BackupFolder(root, vmUuid);
    const top = await folder.remote.stat('').catch((err: unknown) => {
      throw describeFsError(err, root, 'use the remote');
    });
    if (!top) throw describeFsError(Object.assign(new Error('absent'), { code: 'ENOENT' }), root, 'use the remote');
    return folder;
  }

  /** Throws (before anything is written) when this remote cannot hold incremental points yet. */
  requireDeltaLayout(): void {
    refuseDeltaWithoutVhdFiles(this.remote);
  }

  /** One writer per VM folder (XO's `<vmUuid>.lock/`); resolves to the release. */
  lock(purpose: string): Promise<() => Promise<void>> {
    return lockVmFolder(this.remote, this.vmUuid, purpose);
  }

  /** A file of this folder as the remote shows it, for messages and clean-up reports. */
  pathOf(name: string): string {
    return this.remote.displayPath(joinKey(this.vmKey, name));
  }

  /** Whether anything of this VM is stored (a clean pass of a VM never backed up here has nothing to do). */
  async exists(): Promise<boolean> {
    return (await this.remote.stat(this.vmKey).catch(() => undefined)) !== undefined;
  }

  listPoints(): Promise<{ points: BackupPoint[]; unreadable: UnreadableMetadata[] }> {
    return listVmPoints(this.root, this.vmUuid);
  }

  /** Temp files and orphans of full points that runs which died left; the names removed. */
  cleanFullLeftovers(): Promise<CleanReport> {
    return cleanFullBackupFolder(this.remote, this.vmKey);
  }

  /** Temp files of VHDs a killed run of this job was writing (under the lock, nobody else writes there). */
  async removeDeltaTemporaries(jobId: string): Promise<string[]> {
    const removed: string[] = [];
    for (const folderKey of await this.jobDiskFolders(jobId)) {
      for (const { name, kind } of await this.remote.list(folderKey)) {
        if (kind !== 'file' || !isTemporaryName(name)) continue;
        const key = joinKey(folderKey, name);
        await this.remote.delete(key);
        removed.push(this.remote.displayPath(key));
      }
    }
    return removed;
  }

  /** `vdis/<jobId>/<vdiUuid>` of this VM, as keys (links are never taken for folders). */
  private async jobDiskFolders(jobId: string): Promise<string[]> {
    const jobKey = joinKey(this.vmKey, 'vdis', jobId);
    return (await this.remote.list(jobKey)).filter((e) => e.kind === 'folder').map((e) => joinKey(jobKey, e.name));
  }

  /**
   * Before a run builds on this job's chains: finish merges a crash interrupted, and fold in VHDs whose point
   * was deleted but not yet merged. While any metadata is unreadable, nothing is merged or removed (it might
   * use any of them): the reason comes back for the log.
   */
  async settleChains(jobId: string, opts: CollapseOptions): Promise<{ held?: string; problems: string[] }> {
    const vdiDirs = await this.jobDiskFolders(jobId);
    if (vdiDirs.length === 0) return { problems: [] };
    const { points, unreadable } = await this.listPoints();
    const held = heldByUnreadable(unreadable);
    if (held) return { held, problems: [] };
    const referenced = referencedVhds(points);
    const problems: string[] = [];
    for (const folderKey of vdiDirs)
      problems.push(...(await collapseUnreferencedVhds(this.remote, folderKey, referenced, opts)).problems);
    return { problems };
  }

  /**
   * Points are named to the second (XO's format): two runs in the same second must not share a name, or the
   * second would replace the first. Called under the folder's lock, so no one else picks the same name.
   */
  async freeTimestamp(now: Date): Promise<Date> {
    // Later than every point already there, not merely unused: retention keeps the newest by time stamp, and
    // a run in the same second as a point that retention just deleted must not come out "older" than the
    // point after it (it would be deleted at once).
    let newest = 0;
    for (const { name } of await this.remote.list(this.vmKey)) {
      const m = /^(.*)\.(?:json|xva)$/.exec(name);
      const at = m ? parseTimestamp(m[1]!) : null;
      if (at) newest = Math.max(newest, at.getTime());
    }
    return new Date(Math.max(Math.floor(now.getTime() / 1000) * 1000, newest + 1000));
  }

  /** A new full point: its XVA (a new file of the remote until the transfer commits it) and the commit that makes it a point. */
  async beginFullPoint(when: Date): Promise<FullPointWriter> {
    const id = formatTimestamp(when);
    const keys = pointFileKeys(this.vmKey, id);
    const xva = await this.remote.beginNew(keys.xva);
    return {
      id,
      xvaPath: this.remote.displayPath(keys.xva),
      xva,
      commit: async (sha256, metadata) => {
        await this.remote.writeNew(keys.xvaChecksum, `$5$$${sha256}`);
        await this.remote.writeNew(keys.metadata, JSON.stringify({ ...metadata, xva: `./${baseName(keys.xva)}` }));
      },
    };
  }

  /**
   * A new VHD of delta point `id` for one disk: its file (new on the remote until committed), the key the
   * metadata names it by (relative to the VM folder, as XO writes it), and its digests file, written once the
   * VHD is in place (its identity is read back from what the remote holds).
   */
  async beginDeltaDisk(jobId: string, vdiUuid: string, id: string): Promise<DeltaDiskWriter> {
    const key = `vdis/${jobId}/${vdiUuid}/${id}.vhd`;
    const fileKey = joinKey(this.vmKey, key);
    const upload = await this.remote.beginNew(fileKey);
    return {
      key,
      path: this.remote.displayPath(fileKey),
      upload,
      writeDigests: async (collector, metadata) => {
        const vhd = await VhdFileReader.openFile(await this.remote.openRead(fileKey));
        await this.remote.writeNew(digestsPathOf(fileKey), await digestsFileText(vhd, collector, metadata));
      },
    };
  }

  /** The key of a disk's VHD in a delta point of this job, as the point's metadata names it. */
  diskKeyOf(point: BackupPoint, jobId: string, vdiUuid: string): string | undefined {
    const vhds = point.metadata.mode === 'delta' ? Object.values(point.metadata.vhds) : [];
    return vhds.find((p) => p.startsWith(`vdis/${jobId}/${vdiUuid}/`));
  }

  /**
   * The chain a previous point's VHD (as its metadata names it) belongs to, checked on the remote: its files
   * oldest first and the VHD's own uuid, or what is wrong with it.
   */
  async previousChain(
    key: string,
  ): Promise<{ paths: string[]; uuid: string | undefined } | { problem: { message: string } }> {
    const file = namedFileKey(this.vmKey, this.vmKey, key, this.remote.label);
    const scan = await scanVhdFolder(this.remote, parentKey(file));
    const chain = resolveChain(scan, baseName(file));
    if ('problem' in chain) return { problem: chain.problem };
    return { paths: chain.paths, uuid: scan.vhds.get(baseName(file))?.uuid };
  }

  /** Commits a delta point: its metadata, written last, once every disk's VHD is in place. */
  async commitDeltaPoint(id: string, metadata: BackupMetadata): Promise<void> {
    await this.remote.writeNew(pointFileKeys(this.vmKey, id).metadata, JSON.stringify(metadata));
  }

  /**
   * After a delta run failed before its metadata: the VHDs it had finished (keys as deltaDisk gave them) and
   * their block digests, which no point commits. A key outside vdis/ or named by a point is kept. Returns the
   * files removed.
   */
  async discardUncommittedDisks(keys: readonly string[]): Promise<string[]> {
    const vdis = joinKey(this.vmKey, 'vdis') + '/';
    const named = new Set(
      (await this.listPoints()).points.flatMap((p) =>
        p.metadata.mode === 'delta' ? Object.values(p.metadata.vhds) : [],
      ),
    );
    const removed: string[] = [];
    for (const name of keys) {
      if (named.has(name)) continue;
      const key = namedFileKey(this.vmKey, this.vmKey, name, this.remote.label);
      if (!key.startsWith(vdis) || !key.endsWith('.vhd')) continue;
      for (const k of [key, `${key}.checksum.json`]) {
        if (!(await this.remote.stat(k))) continue;
        await this.remote.delete(k);
        removed.push(this.remote.displayPath(k));
      }
    }
    return removed;
  }
}

export interface FullPointWriter {
  id: string;
  /** For messages and results: where the XVA will be once committed. */
  xvaPath: string;
  /** The XVA being written, under a temp name until the transfer commits it. */
  xva: RemoteUpload;
  /** The checksum file, then the metadata that makes the point (its `xva` field is filled in here). */
  commit(sha256: string, metadata: Omit<FullMetadata, 'xva'>): Promise<void>;
}

export interface DeltaDiskWriter {
  /** As the point's metadata names the VHD: relative to the VM folder. */
  key: string;
  /** For messages: where the VHD will be once committed. */
  path: string;
  /** The VHD being written, under a temp name until committed. */
  upload: RemoteUpload;
  /** After the commit: the VHD's block digests beside it, as `<ts>.vhd.checksum.json`. */
  writeDigests(collector: VhdDigestCollector, metadata: Buffer): Promise<void>;
}
