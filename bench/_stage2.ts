import { startSimProcess } from './lib/sim-process.js';
import { firstVm } from './lib/rpc.js';
import { XapiSession } from '../src-main/xapi/xapi-session.js';
import { openHostDownload } from '../src-main/xapi/http-export.js';
import { Transfer } from '../src-main/transfer/transfer-pipeline.js';
import { FileSink } from '../src-main/transfer/file-sink.js';
import { XvaStreamVerifier } from '../src-main/formats/xva-stream-verifier.js';
import { promises as fs } from 'node:fs';
const sim = await startSimProcess(['--vms', '1', '--disk-size', '1G', '--allocated', '1', '--login-failure-delay', '100']);
const vm = await firstVm(sim.url, sim.username, sim.password);
const xapi = await XapiSession.connect({ url: sim.url, username: sim.username, password: sim.password, trustedFingerprint: sim.fingerprint });
for (const mode of ['null', 'file', 'file+sha', 'file+sha+verify']) {
  const t0 = performance.now();
  const s = await openHostDownload(xapi, '/export', { ref: vm.ref, use_compression: 'false' }, { context: {} });
  const fh = await fs.open('/tmp/stage.out', 'w');
  const sink = mode === 'null' ? { write: async (_c: Buffer) => {} } : new FileSink(fh, 'x', mode.includes('sha') ? { hash: 'sha256' } : {});
  const v = await XvaStreamVerifier.create();
  let writes = 0;
  const t = new Transfer({ source: s.body, sink: { write: (c) => (writes++, sink.write(c)) }, buffer: { memoryCapBytes: 64 << 20, spoolCapBytes: 1 << 30, spoolDir: '/tmp' }, inspect: mode.includes('verify') ? (c) => v.update(c) : undefined });
  const c = await t.run();
  await fh.close();
  const dt = (performance.now() - t0) / 1000;
  console.log(mode, (c.bytesWritten / 1048576 / dt).toFixed(0), 'MiB/s writes', writes, 'spoolPeak', c.buffer.spoolPeakBytes, 'memPeak', c.buffer.memoryPeakBytes, 'blocked', c.producerBlockedMs.toFixed(0), 'starved', c.consumerStarvedMs.toFixed(0));
}
await xapi.close(); await sim.stop();
