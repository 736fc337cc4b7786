import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call, insecureAgent, MiB, rawRequest, readToEnd, waitTask, type RawResponse } from './support/clients.js';
import { startTestPool, type TestPool } from './support/pool.js';
import { tarEntries } from './support/tar.js';
import { fetch } from 'undici';

let pool: TestPool;
let url: string;
let bigVdi: string;
let smallVm: string;
beforeAll(async () => {
  pool = await startTestPool({
    vms: [
      { name: 'big', disks: [{ name: 'big disk', size: 64 * MiB, allocated: 64 * MiB }] },
      { name: 'small', disks: [{ name: 'small disk', size: 4 * MiB, allocated: 2 * MiB }] },
    ],
  });
  url = pool.sim.url;
  [bigVdi] = (await pool.vdisOf(await pool.vmRef('big'))) as [string];
  smallVm = await pool.vmRef('small');
});
afterEach(() => pool.sim.control.clearFaults());
afterAll(() => pool?.sim.stop());

const get = (path: string, base = url): Promise<RawResponse> =>
  rawRequest(base, `GET ${path} HTTP/1.1\r\nHost: {host}`);
const exportBig = (): Promise<RawResponse> =>
  get(`/export_raw_vdi?vdi=${bigVdi}&format=raw&session_id=${pool.session}`);

describe('transfer faults', () => {
  it('stall-abort: a client that stops reading loses the connection; the task fails with VDI_IO_ERROR', async () => {
    pool.sim.control.addFault({ kind: 'stall-abort', ms: 300, times: 1 });
    const response = await exportBig();
    // Stop reading: the kernel buffers fill, the host's writes block, and after 300 ms it gives up. The
    // client sees it when it reads again: the stream ends short.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await waitTask(url, pool.session, response.headers['task-id']!)).toMatchObject({
      status: 'failure',
      error_info: ['VDI_IO_ERROR', 'Device I/O errors'],
    });
    const { body } = await readToEnd(response);
    expect(body.length).toBeLessThan(64 * MiB);
    expect(pool.sim.control.stats().transfers.find((t) => t.task === response.headers['task-id'])?.outcome).toBe(
      'failure',
    );

    // One-shot: the next export, read promptly, completes even with pauses shorter than nothing-at-all.
    const next = await exportBig();
    expect((await readToEnd(next)).body.length).toBe(64 * MiB);
  });

  it('without stall-abort a paused client is waited for (modern host)', async () => {
    const response = await exportBig();
    await new Promise((r) => setTimeout(r, 700));
    const { body } = await readToEnd(response);
    expect(body.length).toBe(64 * MiB);
    expect(await waitTask(url, pool.session, response.headers['task-id']!)).toMatchObject({ status: 'success' });
  });

  it('drop-after: the stream is cut after N bytes and the task fails', async () => {
    pool.sim.control.addFault('drop-after=1M,times=1');
    const response = await exportBig();
    const { body } = await readToEnd(response);
    expect(body.length).toBe(MiB);
    expect(await waitTask(url, pool.session, response.headers['task-id']!)).toMatchObject({
      status: 'failure',
      error_info: ['VDI_IO_ERROR', 'Device I/O errors'],
    });
  });

  it('embedded-error: a 200 whose body is an HTTP 500 response', async () => {
    pool.sim.control.addFault({ kind: 'embedded-error', times: 1 });
    const response = await get(`/export?ref=${smallVm}&session_id=${pool.session}`);
    expect(response.statusLine).toBe('HTTP/1.0 200 OK');
    const { body } = await readToEnd(response);
    expect(body.toString('latin1')).toMatch(/^HTTP\/1\.1 500 Internal Error\r\n/);
    expect((await waitTask(url, pool.session, response.headers['task-id']!))['status']).toBe('failure');
  });

  it('redirect: 302 Found to the second host, which serves the export', async () => {
    pool.sim.control.addFault({ kind: 'redirect', on: 'export', times: 1 });
    const response = await get(`/export?ref=${smallVm}&session_id=${pool.session}`);
    expect(response.statusLine).toBe('HTTP/1.1 302 Found');
    const location = new URL(response.headers['location']!);
    expect(location.origin).toBe(pool.sim.secondHostUrl);
    response.socket.destroy();
    const followed = await get(`${location.pathname}${location.search}`, location.origin);
    expect(followed.statusLine).toBe('HTTP/1.0 200 OK');
    const { body } = await readToEnd(followed);
    expect(body.subarray(0, 7).toString()).toBe('ova.xml');
    expect(await waitTask(url, pool.session, followed.headers['task-id']!)).toMatchObject({ status: 'success' });
    expect(pool.sim.control.stats().transfers.at(-1)?.host).toBe('second');
  });

  it('corrupt-checksum: one chunk checksum file is wrong', async () => {
    pool.sim.control.addFault({ kind: 'corrupt-checksum', chunk: 0, times: 1 });
    const { body } = await readToEnd(await get(`/export?ref=${smallVm}&session_id=${pool.session}`));
    const { default: xxhash } = await import('xxhash-wasm');
    const { h64Raw } = await xxhash();
    const entries = tarEntries(body);
    const chunk = entries.findIndex((e) => /^Ref:\d+\/00000000$/.test(e.name));
    expect(entries[chunk + 1]?.name).toBe(`${entries[chunk]!.name}.xxhash`);
    const stored = entries[chunk + 1]!.data.toString('latin1');
    const actual = h64Raw(entries[chunk]!.data, 0n).toString(16).toUpperCase().padStart(16, '0');
    expect(stored).toMatch(/^[0-9A-F]{16}$/);
    expect(stored).not.toBe(actual);
    // Only the chunk asked for is corrupted.
    const next = entries.findIndex((e, i) => i > chunk + 1 && /\/\d{8}$/.test(e.name) && e.data.length > 0);
    if (next > 0)
      expect(entries[next + 1]!.data.toString('latin1')).toBe(
        h64Raw(entries[next]!.data, 0n).toString(16).toUpperCase().padStart(16, '0'),
      );
  });

  it('rate-limit and first-byte-delay slow the source down', async () => {
    pool.sim.control.addFault({ kind: 'first-byte-delay', ms: 400, times: 1 });
    pool.sim.control.addFault({ kind: 'rate-limit', bytesPerSecond: 8 * MiB, times: 1 });
    const [vdi] = await pool.vdisOf(smallVm);
    const started = Date.now();
    const response = await get(`/export_raw_vdi?vdi=${vdi}&format=raw&session_id=${pool.session}`);
    const { body } = await readToEnd(response);
    expect(body.length).toBe(4 * MiB);
    // 400 ms delay + 4 MiB at 8 MiB/s.
    expect(Date.now() - started).toBeGreaterThanOrEqual(850);
  });

  it('counts concurrent exports', async () => {
    pool.sim.control.resetStats();
    const responses = await Promise.all([exportBig(), exportBig(), exportBig()]);
    expect(pool.sim.control.stats().activeExports).toBe(3);
    await Promise.all(responses.map(readToEnd));
    await new Promise((r) => setTimeout(r, 50));
    const stats = pool.sim.control.stats();
    expect(stats.maxConcurrentExports).toBe(3);
    expect(stats.activeExports).toBe(0);
    expect(stats.transfers.filter((t) => t.kind === 'export_raw_vdi').map((t) => t.bytes)).toEqual([
      64 * MiB,
      64 * MiB,
      64 * MiB,
    ]);
  });

  it('serves exports on a kept-alive RPC connection too (undici pool)', async () => {
    const [vdi] = await pool.vdisOf(smallVm);
    await call(url, 'pool.get_all', pool.session);
    const response = await fetch(`${url}/export_raw_vdi?vdi=${vdi}&format=raw&session_id=${pool.session}`, {
      dispatcher: insecureAgent,
    });
    expect(response.headers.get('task-id')).toMatch(/^OpaqueRef:/);
    expect((await response.arrayBuffer()).byteLength).toBe(4 * MiB);
  });
});

describe('certificates', () => {
  const peerFingerprint = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const { hostname, port } = new URL(url);
      const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
        resolve(new X509Certificate(socket.getPeerX509Certificate()!.raw).fingerprint256);
        socket.destroy();
      });
      socket.once('error', reject);
    });

  it('reports the served certificate fingerprint and changes it on rotation', async () => {
    const before = pool.sim.fingerprint;
    expect(before).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(await peerFingerprint()).toBe(before);
    const rotated = await pool.sim.control.rotateCertificate();
    expect(rotated).not.toBe(before);
    expect(pool.sim.fingerprint).toBe(rotated);
    expect(await peerFingerprint()).toBe(rotated);
  });
});
