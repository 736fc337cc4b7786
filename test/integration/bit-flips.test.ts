import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDeltaBackup } from '../../src-main/backup/delta-backup.js';
import { runFullBackup } from '../../src-main/backup/full-backup.js';
import { SluiceError } from '../../src-main/errors/sluice-error.js';
import { digestsPathOf } from '../../src-main/formats/vhd/vhd-block-digests.js';
import { xvaPathOf } from '../../src-main/repository/full-point-reader.js';
import { deltaPointDisks } from '../../src-main/repository/point-disks.js';
import { listBackupPoints, type BackupPoint } from '../../src-main/repository/repository-reader.js';
import { verifyPoint } from '../../src-main/repository/verify-point.js';
import { restorePoint } from '../../src-main/restore/restore-point.js';
import { pickOffsets, vhdParts, xvaParts, type Ranges, type VhdPart, type XvaPart } from '../helpers/file-regions.js';
import { destroyRestored, hostObjects, testRestoreOptions, vmShape } from '../helpers/restore.js';
import { seededRandom, seedFor, seedFrom } from '../helpers/seeded-random.js';
import { MiB, testBackupOptions } from '../helpers/sim.js';
import { flipBit } from '../helpers/vhd-damage.js';
import { haltedVm, withSimulator } from '../helpers/simulator-suite.js';

// Issue 13: a flipped bit anywhere in a repository file is never restored silently as different data. Each
// kind of file Sluice writes gets a few flips, at bytes and bits chosen by a seeded PRNG (SLUICE_FLIP_SEED
// replays a run). Each flip must end one of two ways: verify names the damaged file and restore refuses,
// leaving nothing on the host; or verify passes and restore gives back byte-identical disks (the flip hit
// bytes that carry no data). Metadata is judged by what it leads to: unparseable, it is an unreadable point;
// parseable but changed, the disks restore identical or the restore is refused. Each flip is undone before
// the next, so one repository serves them all.

const SEED = seedFrom('SLUICE_FLIP_SEED', 13_013);
const PER_KIND = 3;

// The data disk is not a whole number of 2 MiB blocks: its last block is short.
const env = withSimulator({
  vms: [haltedVm('flip01', { system: [6 * MiB, 3 * MiB], data: [4 * MiB + 512 * 1024, 1536 * 1024] })],
});
const { temp } = env;
/** One VM folder with a plain and a zstd full point; another with a base delta point and its child. */
let fullRoot: string;
let deltaRoot: string;
const ids = { plain: '', zstd: '', base: '', child: '' };
/** `<root> <point id>` → SHA-256 of each disk when the point was taken, sorted (ids repeat across roots). */
const truth = new Map<string, string[]>();
/** Kind → how each of its flips ended, printed at the end: what the suite actually exercised. */
const outcomes = new Map<string, string[]>();

beforeAll(async () => {
  const ref = await env.vmRef('flip01');
  fullRoot = temp();
  deltaRoot = temp();
  const taken = async (root: string, id: string) => {
    truth.set(`${root} ${id}`, (await vmShape(env.sim, ref)).disks.map((d) => d.sha256).sort());
    return id;
  };
  const full = async (compression: 'none' | 'zstd') =>
    taken(fullRoot, (await runFullBackup(env.xapi, ref, testBackupOptions(fullRoot, temp(), { compression }))).pointId);
  const delta = async () =>
    taken(
      deltaRoot,
      (await runDeltaBackup(env.xapi, ref, testBackupOptions(deltaRoot, temp(), { jobId: 'job-flips' }))).pointId,
    );
  ids.plain = await full('none');
  ids.zstd = await full('zstd');
  ids.base = await delta();
  env.sim.control.guestWrite(env.sim.control.vmUuidByName('flip01'), 0.1, 13);
  ids.child = await delta();
});
afterAll(() => {
  for (const [kind, ends] of outcomes) console.info(`seed ${SEED} · ${kind}: ${ends.join(', ')}`);
});

async function pointsOf(root: string): Promise<BackupPoint[]> {
  return (await listBackupPoints(root)).points;
}

function pointOf(points: BackupPoint[], id: string): BackupPoint {
  const p = points.find((x) => x.id === id);
  if (!p) throw new Error(`no point ${id}`);
  return p;
}

/** Whether a finding names `file` itself (not merely a longer name starting with it, like its checksum file). */
function names(err: SluiceError, file: string): boolean {
  const text = [err.message, ...Object.values(err.context)].join('\n');
  return new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\.?\\w)`).test(text);
}

interface Flip {
  kind: string;
  root: string;
  /** The point that owns the file: the one verified and restored. */
  point: string;
  file: string;
  /** The file is the point's metadata: judged by what the changed value leads to. */
  metadata?: boolean;
}

/** Flips one bit at each of `count` offsets the PRNG picks in `ranges` of the file, one at a time. */
async function flips(f: Flip, ranges: Ranges, count = PER_KIND): Promise<void> {
  const random = seededRandom(seedFor(SEED, f.kind));
  for (const offset of pickOffsets(random, ranges, count)) {
    const bit = Math.floor(random() * 8);
    const where = `${f.kind}: ${f.file} byte ${offset} bit ${bit} (SLUICE_FLIP_SEED=${SEED})`;
    await flipBit(f.file, offset, { bit });
    try {
      const end = await judge(f, where);
      outcomes.set(f.kind, [...(outcomes.get(f.kind) ?? []), `${offset}:${bit} ${end}`]);
    } finally {
      await flipBit(f.file, offset, { bit });
    }
  }
}

/** How one flip ended ('found', 'no data', 'unreadable', 'refused'), or a failed expectation naming `where`. */
async function judge(f: Flip, where: string): Promise<string> {
  const { points, unreadable } = await listBackupPoints(f.root);
  const point = points.find((p) => p.id === f.point);
  if (!point) {
    expect(f.metadata, `${where}: the point disappeared`).toBe(true);
    expect(
      unreadable.map((u) => u.path),
      `${where}: an unparseable metadata file is an unreadable point`,
    ).toContain(f.file);
    return 'unreadable';
  }
  const finding = await verifyPoint(point).then(
    () => undefined,
    (err: unknown) => {
      expect(err, where).toBeInstanceOf(SluiceError);
      return err as SluiceError;
    },
  );
  if (finding && !f.metadata) expect(names(finding, f.file), `${where}: ${finding.message}`).toBe(true);
  const before = hostObjects(env.sim);
  const restored = await restorePoint(env.xapi, point, testRestoreOptions(temp())).catch((err: unknown) => {
    expect(err, where).toBeInstanceOf(SluiceError);
    return err as SluiceError;
  });
  if (restored instanceof SluiceError) {
    expect(hostObjects(env.sim), `${where}: a refused restore leaves nothing on the host`).toEqual(before);
    if (!f.metadata)
      expect(finding, `${where}: restore refused (${restored.message}) what verify passed`).toBeDefined();
    return finding ? 'found' : 'refused';
  }
  const disks = await Promise.all(restored.disks.map((d) => env.sim.control.hashVdi(d.vdiUuid)));
  await destroyRestored(
    env.xapi,
    restored.vmRef,
    restored.disks.map((d) => d.vdiRef),
  );
  expect(disks.sort(), `${where}: restored different data`).toEqual(truth.get(`${f.root} ${f.point}`));
  if (!f.metadata)
    expect(finding?.message, `${where}: verify found damage, yet the restore went ahead`).toBeUndefined();
  return 'no data';
}

async function wholeFile(file: string): Promise<Ranges> {
  return [[0, (await fs.stat(file)).size]];
}

/** Every VHD of a delta point's disks that the point itself wrote (its chain's last file). */
async function ownVhds(id: string): Promise<string[]> {
  const point = pointOf(await pointsOf(deltaRoot), id);
  return (await deltaPointDisks(point)).map((d) => d.chain.at(-1)!);
}

describe(`bit flips in every kind of file (seed ${SEED}; SLUICE_FLIP_SEED replays a run)`, () => {
  const xvaPartsToFlip: XvaPart[] = ['tar headers', 'ova.xml', 'chunk data', 'chunk checksums', 'padding and end'];
  it('full point, plain XVA: tar headers, ova.xml, chunk data, chunk checksums, padding and the end blocks', async () => {
    const xva = xvaPathOf(pointOf(await pointsOf(fullRoot), ids.plain));
    const parts = await xvaParts(xva);
    for (const part of xvaPartsToFlip)
      await flips({ kind: `plain XVA ${part}`, root: fullRoot, point: ids.plain, file: xva }, parts[part], 2);
  });

  it('full point, zstd XVA', async () => {
    const xva = xvaPathOf(pointOf(await pointsOf(fullRoot), ids.zstd));
    await flips({ kind: 'zstd XVA', root: fullRoot, point: ids.zstd, file: xva }, await wholeFile(xva));
  });

  it('full points: the .xva.checksum files', async () => {
    for (const id of [ids.plain, ids.zstd]) {
      const file = `${xvaPathOf(pointOf(await pointsOf(fullRoot), id))}.checksum`;
      await flips(
        { kind: `.xva.checksum (${id === ids.plain ? 'plain' : 'zstd'})`, root: fullRoot, point: id, file },
        await wholeFile(file),
      );
    }
  });

  it('full and incremental points: the metadata JSON', async () => {
    for (const [root, id] of [
      [fullRoot, ids.plain],
      [deltaRoot, ids.child],
    ] as const) {
      const file = pointOf(await pointsOf(root), id).metadataPath;
      await flips(
        { kind: `metadata (${root === fullRoot ? 'full' : 'delta'})`, root, point: id, file, metadata: true },
        await wholeFile(file),
      );
    }
  });

  const vhdPartsToFlip: VhdPart[] = [
    'footer copy',
    'header',
    'BAT',
    'parent locators',
    'sector bitmaps',
    'data blocks',
    'trailing footer',
    'unused',
  ];
  it(`incremental points, each VHD: ${vhdPartsToFlip.join(', ')}`, async () => {
    const random = seededRandom(seedFor(SEED, 'which VHD'));
    for (const part of vhdPartsToFlip) {
      // One file of the chain a part at a time (a base or a child, either disk): a few flips in each.
      const candidates = [];
      for (const id of [ids.base, ids.child])
        for (const file of await ownVhds(id)) {
          const ranges = (await vhdParts(file))[part];
          if (ranges.length > 0) candidates.push({ id, file, ranges });
        }
      if (candidates.length === 0) {
        outcomes.set(`VHD ${part}`, ['none in these files']);
        continue;
      }
      const c = candidates[Math.floor(random() * candidates.length)]!;
      await flips({ kind: `VHD ${part}`, root: deltaRoot, point: c.id, file: c.file }, c.ranges);
    }
  });

  it('incremental points: the .vhd.checksum.json beside each VHD', async () => {
    const random = seededRandom(seedFor(SEED, 'which checksum file'));
    const files = [
      ...(await ownVhds(ids.base)).map((f) => [ids.base, f]),
      ...(await ownVhds(ids.child)).map((f) => [ids.child, f]),
    ];
    const [id, vhd] = files[Math.floor(random() * files.length)]!;
    const file = digestsPathOf(vhd!);
    await flips({ kind: '.vhd.checksum.json', root: deltaRoot, point: id!, file }, await wholeFile(file));
  });
});
