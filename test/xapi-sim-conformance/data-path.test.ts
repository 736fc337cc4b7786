import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue } from '../../src-sim/formats/xmlrpc-value.js';
import { call, rawRequest, readToEnd, waitTask, type RawResponse } from './support/clients.js';
import { startTestPool, type TestPool } from './support/pool.js';
import { tarEntries } from './support/tar.js';

const run = promisify(execFile);
const DISK = 8 * 1024 * 1024;

let pool: TestPool;
let url: string;
let work: string;
beforeAll(async () => {
  pool = await startTestPool({ vms: 2, diskSize: DISK, allocatedFraction: 0.5 });
  url = pool.sim.url;
  work = await mkdtemp(join(tmpdir(), 'xapi-sim-conformance-'));
});
afterAll(async () => {
  await pool?.sim.stop();
  await rm(work, { recursive: true, force: true });
});

const get = (path: string): Promise<RawResponse> => rawRequest(url, `GET ${path} HTTP/1.1\r\nHost: {host}`);
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const tarNames = (tar: Buffer): string[] => tarEntries(tar).map((e) => e.name);

describe('export headers, exactly as a host sends them', () => {
  it('/export: HTTP/1.0 200, Connection: close, task-id, octet-stream, no Content-Length; body ends at close', async () => {
    const vm = await pool.vmRef('vm-01');
    const response = await get(`/export?ref=${vm}&session_id=${pool.session}`);
    expect(response.statusLine).toBe('HTTP/1.0 200 OK');
    expect(response.headers['connection']).toBe('close');
    expect(response.headers['content-type']).toBe('application/octet-stream');
    expect(response.headers['task-id']).toMatch(/^OpaqueRef:/);
    expect(response.headers['content-length']).toBeUndefined();
    expect(response.headers['transfer-encoding']).toBeUndefined();
    const { body } = await readToEnd(response);
    const names = tarNames(body);
    expect(names[0]).toBe('ova.xml');
    expect(names[1]).toMatch(/^Ref:\d+\/00000000$/);
    expect(names[2]).toMatch(/^Ref:\d+\/00000000\.xxhash$/);
    expect(body.subarray(-1024).every((b) => b === 0)).toBe(true);
    expect(await waitTask(url, pool.session, response.headers['task-id']!)).toMatchObject({
      status: 'success',
      progress: 1,
    });
  });

  it('/export_raw_vdi: HTTP/1.1 200 with the same headers; application/vhd for vhd', async () => {
    const [vdi] = await pool.vdisOf(await pool.vmRef('vm-01'));
    const raw = await get(`/export_raw_vdi?vdi=${vdi}&format=raw&session_id=${pool.session}`);
    expect(raw.statusLine).toBe('HTTP/1.1 200 OK');
    expect(raw.headerLines.map((l) => l.split(':')[0])).toEqual([
      'Connection',
      'Cache-Control',
      'task-id',
      'content-type',
    ]);
    expect(raw.headers['content-type']).toBe('application/octet-stream');
    expect((await readToEnd(raw)).body.length).toBe(DISK);
    const vhd = await get(`/export_raw_vdi?vdi=${vdi}&format=vhd&session_id=${pool.session}`);
    expect(vhd.headers['content-type']).toBe('application/vhd');
    expect(vhd.headers['content-length']).toBeUndefined();
    const { body } = await readToEnd(vhd);
    expect(body.subarray(0, 8).toString('latin1')).toBe('conectix');
  });

  it('401 without credentials or with a stale session; HTTP Basic works', async () => {
    const vm = await pool.vmRef('vm-01');
    expect((await get(`/export?ref=${vm}`)).statusLine).toBe('HTTP/1.1 401 Unauthorized');
    expect((await get(`/export?ref=${vm}&session_id=OpaqueRef:stale`)).statusLine).toBe('HTTP/1.1 401 Unauthorized');
    const basic = Buffer.from(`${pool.sim.username}:${pool.sim.password}`).toString('base64');
    const ok = await rawRequest(
      url,
      `GET /export_metadata?ref=${vm} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Basic ${basic}`,
    );
    expect(ok.statusLine).toBe('HTTP/1.0 200 OK');
    expect(tarNames((await readToEnd(ok)).body)).toEqual(['ova.xml']);
  });

  it('403 for unknown paths; POST /import falls to the RPC handler and fails', async () => {
    expect((await get('/nope')).statusLine).toBe('HTTP/1.1 403 Forbidden');
    expect((await get(`/export_raw_vdi/extra?session_id=${pool.session}`)).statusLine).toBe('HTTP/1.1 403 Forbidden');
    const post = await rawRequest(
      url,
      `POST /import?session_id=${pool.session} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: 1024`,
      Buffer.alloc(1024),
    );
    expect(post.statusLine).toBe('HTTP/1.1 200 OK');
    const { body } = await readToEnd(post);
    expect(body.toString()).toContain('<fault>');
  });

  it('refuses to export a running VM: VM_BAD_POWER_STATE in the task', async () => {
    const vm = await pool.vmRef('vm-02');
    await call(url, 'VM.start', pool.session, vm, false, false);
    try {
      const response = await get(`/export?ref=${vm}&session_id=${pool.session}`);
      expect(response.statusLine).toBe('HTTP/1.1 500 Internal Error');
      expect(await waitTask(url, pool.session, response.headers['task-id']!)).toMatchObject({
        status: 'failure',
        error_info: ['VM_BAD_POWER_STATE', vm, 'halted', 'running'],
      });
      // Its snapshot can be exported.
      const snap = await call<string>(url, 'VM.snapshot', pool.session, vm, 'exportable');
      expect((await get(`/export?ref=${snap}&session_id=${pool.session}`)).statusLine).toBe('HTTP/1.0 200 OK');
    } finally {
      await call(url, 'VM.hard_shutdown', pool.session, vm);
    }
  });

  it('honours task_id: the host reports on the caller task', async () => {
    const [vdi] = await pool.vdisOf(await pool.vmRef('vm-01'));
    const task = await call<string>(url, 'task.create', pool.session, 'mine', '');
    const response = await get(`/export_raw_vdi?vdi=${vdi}&format=raw&session_id=${pool.session}&task_id=${task}`);
    expect(response.headers['task-id']).toBe(task);
    await readToEnd(response);
    expect(await waitTask(url, pool.session, task)).toMatchObject({ status: 'success' });
  });
});

describe('compression', () => {
  it.each(['zstd', 'gzip', 'true'])('use_compression=%s compresses the XVA body itself', async (mode) => {
    const vm = await pool.vmRef('vm-01');
    const response = await get(
      `/export?uuid=${await call<string>(url, 'VM.get_uuid', pool.session, vm)}&use_compression=${mode}&session_id=${pool.session}`,
    );
    expect(response.headers['content-encoding']).toBeUndefined();
    const { body } = await readToEnd(response);
    let tar: Buffer;
    if (mode === 'zstd') {
      expect(body.readUInt32BE(0)).toBe(0x28b52ffd);
      const file = join(work, 'export.xva.zst');
      await writeFile(file, body);
      await run('zstd', ['-d', '-q', '-f', file, '-o', join(work, 'export.xva')]);
      tar = await readFile(join(work, 'export.xva'));
    } else {
      expect(body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
      tar = gunzipSync(body);
    }
    expect(tarNames(tar)[0]).toBe('ova.xml');
    expect(body.length).toBeLessThan(tar.length);
  });
});

describe('formats end to end', () => {
  it('export_raw_vdi vhd converted by qemu-img equals the raw export; a differencing VHD names its base', async () => {
    const vm = await pool.vmRef('vm-01');
    const [vdi] = await pool.vdisOf(vm);
    const fetchBody = async (path: string): Promise<Buffer> => (await readToEnd(await get(path))).body;
    const vhdFile = join(work, 'disk.vhd');
    await writeFile(vhdFile, await fetchBody(`/export_raw_vdi?vdi=${vdi}&format=vhd&session_id=${pool.session}`));
    // qemu sizes VHDs from other creators by CHS geometry (8 MiB is not CHS-exact): ask for current_size.
    await run('qemu-img', [
      'convert',
      '--image-opts',
      `driver=vpc,force_size_calc=current_size,file.filename=${vhdFile}`,
      '-O',
      'raw',
      join(work, 'disk.raw'),
    ]);
    const converted = await readFile(join(work, 'disk.raw'));
    const raw = await fetchBody(`/export_raw_vdi?vdi=${vdi}&format=raw&session_id=${pool.session}`);
    expect(sha256(converted)).toBe(sha256(raw));

    const base = (await pool.vdisOf(await call<string>(url, 'VM.snapshot', pool.session, vm, 'base')))[0]!;
    const baseUuid = await call<string>(url, 'VDI.get_uuid', pool.session, base);
    pool.sim.control.guestWrite(await call<string>(url, 'VM.get_uuid', pool.session, vm), 0.05);
    const delta = await fetchBody(`/export_raw_vdi?vdi=${vdi}&format=vhd&base=${baseUuid}&session_id=${pool.session}`);
    expect(delta.readUInt32BE(60)).toBe(4); // disk type: differencing
    const parent = delta.subarray(512 + 40, 512 + 56).toString('hex');
    expect(parent).toBe(baseUuid.replace(/-/g, ''));
  });

  it('an XVA made by /export imports back byte-identical (task result: array of VM refs)', async () => {
    const vm = await pool.vmRef('vm-01');
    const [vdi] = await pool.vdisOf(vm);
    const exported = (await readToEnd(await get(`/export?ref=${vm}&session_id=${pool.session}`))).body;
    const sr = await call<string>(url, 'VDI.get_SR', pool.session, vdi);
    // No Content-Length: the body ends when the client half-closes, as real hosts accept.
    const response = await rawRequest(
      url,
      `PUT /import?sr_id=${sr}&session_id=${pool.session} HTTP/1.1\r\nHost: {host}`,
    );
    expect(response.statusLine).toBe('HTTP/1.1 200 OK');
    const task = response.headers['task-id']!;
    response.socket.end(exported);
    await readToEnd(response);
    const done = await waitTask(url, pool.session, task);
    expect(done['status']).toBe('success');
    expect(done['result']).toMatch(/^<value><array><data><value>OpaqueRef:[^<]+<\/value><\/data><\/array><\/value>$/);
    const [imported] = decodeValue(done['result'] as string) as string[];
    expect(await call(url, 'VM.get_name_label', pool.session, imported)).toBe('vm-01');
    const [importedVdi] = await pool.vdisOf(imported!);
    const uuids = await Promise.all([vdi, importedVdi].map((v) => call<string>(url, 'VDI.get_uuid', pool.session, v)));
    expect(await pool.sim.control.hashVdi(uuids[1]!)).toBe(await pool.sim.control.hashVdi(uuids[0]!));
  });

  it('refuses chunked imports with IMPORT_ERROR_CANNOT_HANDLE_CHUNKED', async () => {
    const response = await rawRequest(
      url,
      `PUT /import?session_id=${pool.session} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked`,
    );
    const task = response.headers['task-id']!;
    response.socket.destroy();
    expect(await waitTask(url, pool.session, task)).toMatchObject({
      status: 'failure',
      error_info: ['IMPORT_ERROR_CANNOT_HANDLE_CHUNKED'],
    });
  });

  it('import_raw_vdi: raw into an existing VDI, vhd into another, and a new VDI sized by Content-Length', async () => {
    const [source] = await pool.vdisOf(await pool.vmRef('vm-01'));
    const sourceUuid = await call<string>(url, 'VDI.get_uuid', pool.session, source);
    const raw = (await readToEnd(await get(`/export_raw_vdi?vdi=${source}&format=raw&session_id=${pool.session}`)))
      .body;
    const vhd = (await readToEnd(await get(`/export_raw_vdi?vdi=${source}&format=vhd&session_id=${pool.session}`)))
      .body;
    const sr = await call<string>(url, 'VDI.get_SR', pool.session, source);
    const expected = await pool.sim.control.hashVdi(sourceUuid);

    for (const [format, body] of [
      ['raw', raw],
      ['vhd', vhd],
    ] as const) {
      const target = await call<string>(url, 'VDI.create', pool.session, {
        name_label: `restore ${format}`,
        SR: sr,
        virtual_size: String(DISK),
        type: 'user',
        sharable: false,
        read_only: false,
        other_config: {},
      });
      const response = await rawRequest(
        url,
        `PUT /import_raw_vdi?vdi=${target}&format=${format}&session_id=${pool.session} HTTP/1.1\r\nHost: {host}\r\nContent-Length: ${body.length}`,
        body,
      );
      expect(response.statusLine).toBe('HTTP/1.1 200 OK');
      await readToEnd(response);
      const done = await waitTask(url, pool.session, response.headers['task-id']!);
      expect(done).toMatchObject({ status: 'success', result: `<value>${target}</value>` });
      expect(await pool.sim.control.hashVdi(await call<string>(url, 'VDI.get_uuid', pool.session, target))).toBe(
        expected,
      );
    }

    const response = await rawRequest(
      url,
      `PUT /import_raw_vdi?sr_id=${sr}&format=raw&session_id=${pool.session} HTTP/1.1\r\nHost: {host}\r\nContent-Length: ${raw.length}`,
      raw,
    );
    await readToEnd(response);
    const done = await waitTask(url, pool.session, response.headers['task-id']!);
    const created = decodeValue(done['result'] as string) as string;
    expect(await call(url, 'VDI.get_virtual_size', pool.session, created)).toBe(DISK);
    expect(await pool.sim.control.hashVdi(await call<string>(url, 'VDI.get_uuid', pool.session, created))).toBe(
      expected,
    );
  });

  it('an import onto a full SR fails with SR_BACKEND_FAILURE_44', async () => {
    const vm = await pool.vmRef('vm-02');
    const exported = (await readToEnd(await get(`/export?ref=${vm}&session_id=${pool.session}`))).body;
    const srs = await call<Record<string, Record<string, unknown>>>(url, 'SR.get_all_records', pool.session);
    const [sr, record] = Object.entries(srs).find(([, r]) => r['name_label'] === 'Local storage')!;
    pool.sim.control.setSrPhysicalSize(record['uuid'] as string, (record['physical_utilisation'] as number) + 1024);
    const response = await rawRequest(
      url,
      `PUT /import?sr_id=${sr}&session_id=${pool.session} HTTP/1.1\r\nHost: {host}\r\nContent-Length: ${exported.length}`,
      exported,
    );
    await readToEnd(response);
    expect(await waitTask(url, pool.session, response.headers['task-id']!)).toMatchObject({
      status: 'failure',
      error_info: ['SR_BACKEND_FAILURE_44', '', 'There is insufficient space', ''],
    });
    expect(await call<string[]>(url, 'VM.get_by_name_label', pool.session, 'vm-02')).toHaveLength(1);
  });

  it('drop-after on=import: the host cuts the upload mid-way, fails the task with VDI_IO_ERROR and keeps nothing of the VM', async () => {
    const vm = await pool.vmRef('vm-02');
    const exported = (await readToEnd(await get(`/export?ref=${vm}&session_id=${pool.session}`))).body;
    const before = Object.keys(pool.sim.control.records('VDI')).length;
    pool.sim.control.addFault('drop-after=64K,times=1,on=import');
    const response = await rawRequest(
      url,
      `PUT /import?session_id=${pool.session} HTTP/1.1\r\nHost: {host}\r\nContent-Length: ${exported.length}`,
    );
    const task = response.headers['task-id']!;
    response.socket.write(exported.subarray(0, 256 * 1024));
    await readToEnd(response);
    expect(await waitTask(url, pool.session, task)).toMatchObject({
      status: 'failure',
      error_info: ['VDI_IO_ERROR', 'Device I/O errors'],
    });
    expect(await call<string[]>(url, 'VM.get_by_name_label', pool.session, 'vm-02')).toHaveLength(1);
    expect(Object.keys(pool.sim.control.records('VDI'))).toHaveLength(before);
    // Exports are not faulted by an import fault, and it was one-shot.
    expect(pool.sim.control.listFaults()).toHaveLength(0);
  });

  it("drop-after on=import_raw_vdi: the upload into a VDI is cut; the VDI (the client's) stays for the client to destroy", async () => {
    const [source] = await pool.vdisOf(await pool.vmRef('vm-01'));
    const sr = await call<string>(url, 'VDI.get_SR', pool.session, source);
    const target = await call<string>(url, 'VDI.create', pool.session, {
      name_label: 'cut',
      SR: sr,
      virtual_size: String(DISK),
      type: 'user',
      sharable: false,
      read_only: false,
      other_config: {},
    });
    pool.sim.control.addFault({ kind: 'drop-after', bytes: 100_000, times: 1, on: 'import_raw_vdi' });
    const response = await rawRequest(
      url,
      `PUT /import_raw_vdi?vdi=${target}&format=raw&session_id=${pool.session} HTTP/1.1\r\nHost: {host}\r\nContent-Length: ${DISK}`,
    );
    response.socket.write(Buffer.alloc(256 * 1024, 1));
    await readToEnd(response);
    expect(await waitTask(url, pool.session, response.headers['task-id']!)).toMatchObject({
      status: 'failure',
      error_info: ['VDI_IO_ERROR', 'Device I/O errors'],
    });
    expect(await call(url, 'VDI.get_name_label', pool.session, target)).toBe('cut');
    await call(url, 'VDI.destroy', pool.session, target);
  });
});

describe('VDI.copy', () => {
  const srNamed = async (name: string): Promise<{ ref: string; uuid: string; size: number }> => {
    const srs = await call<Record<string, Record<string, unknown>>>(url, 'SR.get_all_records', pool.session);
    const [ref, r] = Object.entries(srs).find(([, s]) => s['name_label'] === name)!;
    return { ref, uuid: r['uuid'] as string, size: r['physical_size'] as number };
  };
  const rawOf = async (vdi: string): Promise<Buffer> =>
    (await readToEnd(await get(`/export_raw_vdi?vdi=${vdi}&format=raw&session_id=${pool.session}`))).body;

  it('Async.VDI.copy: a new VDI on the chosen SR with the same content and record, independent of its source', async () => {
    const vm = await pool.vmRef('vm-01');
    const [source] = await pool.vdisOf(vm);
    const sourceRecord = await call<Record<string, unknown>>(url, 'VDI.get_record', pool.session, source);
    const target =
      (await srNamed('Local storage')).ref === sourceRecord['SR']
        ? await srNamed('NFS storage')
        : await srNamed('Local storage');
    pool.sim.control.setSrPhysicalSize(target.uuid, 1024 ** 4);
    try {
      const task = await call<string>(url, 'Async.VDI.copy', pool.session, source, target.ref);
      const done = await waitTask(url, pool.session, task);
      expect(done).toMatchObject({ status: 'success', progress: 1 });
      const copy = decodeValue(done['result'] as string) as string;
      const copyRecord = await call<Record<string, unknown>>(url, 'VDI.get_record', pool.session, copy);
      expect(copyRecord).toMatchObject({
        SR: target.ref,
        virtual_size: sourceRecord['virtual_size'],
        name_label: sourceRecord['name_label'],
        name_description: sourceRecord['name_description'],
        type: sourceRecord['type'],
        VBDs: [],
        is_a_snapshot: false,
      });
      expect(copyRecord['uuid']).not.toBe(sourceRecord['uuid']);
      expect(await call<string[]>(url, 'SR.get_VDIs', pool.session, target.ref)).toContain(copy);
      // Byte-identical through the raw export, and physical_utilisation counts its data.
      const before = await rawOf(source!);
      expect(sha256(await rawOf(copy))).toBe(sha256(before));
      expect(copyRecord['physical_utilisation']).toBeGreaterThan(0);
      // A real copy: the guest writing to the source afterwards does not change it.
      pool.sim.control.guestWrite(await call<string>(url, 'VM.get_uuid', pool.session, vm), 0.2, 77);
      expect(sha256(await rawOf(source!))).not.toBe(sha256(before));
      expect(sha256(await rawOf(copy))).toBe(sha256(before));
      await call(url, 'VDI.destroy', pool.session, copy);
    } finally {
      pool.sim.control.setSrPhysicalSize(target.uuid, target.size);
    }
  });

  it('VDI.copy onto a full SR fails with SR_BACKEND_FAILURE_44, as an import does, and creates nothing', async () => {
    const [source] = await pool.vdisOf(await pool.vmRef('vm-02'));
    const local = await srNamed('Local storage');
    const used = await call<number>(url, 'SR.get_physical_utilisation', pool.session, local.ref);
    pool.sim.control.setSrPhysicalSize(local.uuid, used + 1024);
    const vdis = Object.keys(pool.sim.control.records('VDI')).length;
    try {
      await expect(call(url, 'VDI.copy', pool.session, source, local.ref)).rejects.toMatchObject({
        code: 'SR_BACKEND_FAILURE_44',
        params: ['', 'There is insufficient space', ''],
      });
      const task = await call<string>(url, 'Async.VDI.copy', pool.session, source, local.ref);
      expect(await waitTask(url, pool.session, task)).toMatchObject({
        status: 'failure',
        error_info: ['SR_BACKEND_FAILURE_44', '', 'There is insufficient space', ''],
      });
      expect(Object.keys(pool.sim.control.records('VDI'))).toHaveLength(vdis);
    } finally {
      pool.sim.control.setSrPhysicalSize(local.uuid, local.size);
    }
  });

  it('task.cancel stops an Async.VDI.copy: the task ends cancelled and no partial copy is left', async () => {
    // Its own pool, with a disk whose copy takes long enough for the cancel to arrive mid-way.
    const big = await startTestPool({
      tls: false,
      vms: [
        {
          name: 'big',
          powerState: 'Halted',
          disks: [{ name: 'big disk', size: 512 * 1024 * 1024, allocated: 384 * 1024 * 1024, sr: 'Local storage' }],
        },
      ],
    });
    try {
      const [source] = await big.vdisOf(await big.vmRef('big'));
      const srs = await call<Record<string, Record<string, unknown>>>(big.sim.url, 'SR.get_all_records', big.session);
      const nfs = Object.keys(srs).find((r) => srs[r]!['name_label'] === 'NFS storage')!;
      const vdis = Object.keys(big.sim.control.records('VDI')).length;
      const task = await call<string>(big.sim.url, 'Async.VDI.copy', big.session, source, nfs);
      await call(big.sim.url, 'task.cancel', big.session, task);
      expect(await waitTask(big.sim.url, big.session, task)).toMatchObject({
        status: 'cancelled',
        error_info: ['TASK_CANCELLED', task],
      });
      expect(Object.keys(big.sim.control.records('VDI'))).toHaveLength(vdis);
    } finally {
      await big.sim.stop();
    }
  });

  it('VDI.copy checks its handles and its parameter count', async () => {
    const [source] = await pool.vdisOf(await pool.vmRef('vm-01'));
    await expect(call(url, 'VDI.copy', pool.session, source, 'OpaqueRef:gone')).rejects.toMatchObject({
      code: 'HANDLE_INVALID',
      params: ['SR', 'OpaqueRef:gone'],
    });
    await expect(call(url, 'VDI.copy', pool.session, source)).rejects.toMatchObject({
      code: 'MESSAGE_PARAMETER_COUNT_MISMATCH',
    });
  });
});
