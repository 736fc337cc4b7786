import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControl, type SimControl } from './control.js';
import { startControlServer } from './control-server.js';
import { FaultSet } from './fault-set.js';
import type { HostName } from './fault-spec.js';
import type { HostContext } from './http/host-context.js';
import { HostServer } from './http/host-server.js';
import { buildPool } from './model/pool-builder.js';
import { PoolState } from './model/pool-state.js';
import { resolveOptions, type SimOptions } from './options.js';
import { buildApi } from './rpc/api.js';
import { generateCertificate, type Certificate } from './tls-certificate.js';
import { TransferStats } from './transfer-stats.js';

export interface SimHandle {
  /** https://127.0.0.1:<port> (or http:// without TLS): the pool coordinator. */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  /** SHA-256 of the coordinator's current certificate, "AB:CD:…" (uppercase, colons); "" without TLS. */
  readonly fingerprint: string;
  /** The second host of the pool: answers login with HOST_IS_SLAVE, serves redirected transfers. */
  readonly secondHostUrl: string;
  readonly secondHostFingerprint: string;
  /** http://127.0.0.1:<port> of the control API (README.md). */
  readonly controlUrl: string;
  readonly control: SimControl;
  /** The summary the CLI prints as its first line. */
  info(): Record<string, unknown>;
  /** Closes every listener and connection and removes the temporary files. Idempotent. */
  stop(): Promise<void>;
}

const HOST_NAMES: readonly HostName[] = ['coordinator', 'second'];
const CERT_NAMES: Record<HostName, string> = { coordinator: 'xcp-host1', second: 'xcp-host2' };

/** Starts a simulated two-host XCP-ng pool on loopback. */
export async function startSimulator(options: SimOptions = {}): Promise<SimHandle> {
  const opts = resolveOptions(options);
  const workDir = await mkdtemp(join(tmpdir(), 'sluice-xapi-sim-'));
  const cleanups: Array<() => Promise<void>> = [() => rm(workDir, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    for (const step of cleanups.reverse()) {
      await step().catch(() => undefined);
    }
  };
  try {
    const diskDir = join(workDir, 'disks');
    await mkdir(diskDir);
    const state = new PoolState(
      {
        username: opts.username,
        password: opts.password,
        loginFailureDelayMs: opts.loginFailureDelayMs,
        oldHost: opts.oldHost,
        nbd: opts.nbd,
      },
      diskDir,
      opts.seed,
    );
    cleanups.push(() => state.disks.destroyAll());
    buildPool(state, opts.pool, opts.seed);

    const api = buildApi();
    const stats = new TransferStats();
    const faults: Record<HostName, FaultSet> = { coordinator: new FaultSet(), second: new FaultSet() };
    for (const fault of opts.faults) faults[fault.host].add(fault);

    const scheme = opts.tls ? 'https' : 'http';
    const certificates: Partial<Record<HostName, Certificate>> = {};
    if (opts.tls) {
      const [a, b] = await Promise.all(HOST_NAMES.map((h) => generateCertificate(workDir, CERT_NAMES[h])));
      certificates.coordinator = a;
      certificates.second = b;
      state.serverCertificates.set(state.coordinatorRef, a!.cert);
      state.serverCertificates.set(state.secondHostRef, b!.cert);
    }
    const addresses: Record<HostName, string> = { coordinator: '', second: '' };
    const hostRefs: Record<HostName, string> = { coordinator: state.coordinatorRef, second: state.secondHostRef };
    const servers = {} as Record<HostName, HostServer>;
    for (const name of HOST_NAMES) {
      const peer: HostName = name === 'coordinator' ? 'second' : 'coordinator';
      const ctx: HostContext = {
        name,
        state,
        api,
        faults: faults[name],
        stats,
        role: {
          isCoordinator: name === 'coordinator',
          hostRef: hostRefs[name],
          coordinatorAddress: () => addresses.coordinator,
          takeLoginDelay: () => faults[name].takeLoginDelay(),
          takeCopyRate: () => faults[name].takeForCopy().rateLimit,
        },
        peerBaseUrl: () => `${scheme}://${addresses[peer]}`,
      };
      const cert = certificates[name];
      servers[name] = new HostServer(ctx, cert ? { key: cert.key, cert: cert.cert } : undefined);
      cleanups.push(() => servers[name].close());
      const port = await servers[name].listen(name === 'coordinator' ? opts.port : opts.secondHostPort);
      addresses[name] = `127.0.0.1:${port}`;
      state.store.update('host', hostRefs[name], { address: addresses[name] });
    }

    const rotateCertificate = async (host: HostName): Promise<string> => {
      if (!opts.tls) throw new Error('the simulator serves plain HTTP: there is no certificate to rotate');
      const next = await generateCertificate(workDir, CERT_NAMES[host]);
      servers[host].setCertificate({ key: next.key, cert: next.cert });
      certificates[host] = next;
      state.serverCertificates.set(hostRefs[host], next.cert);
      return next.fingerprint;
    };
    const control = createControl({ state, faults, stats, rotateCertificate });

    const url = `${scheme}://${addresses.coordinator}`;
    const secondHostUrl = `${scheme}://${addresses.second}`;
    let controlUrl = '';
    const info = (): Record<string, unknown> => ({
      url,
      username: opts.username,
      password: opts.password,
      fingerprint: certificates.coordinator?.fingerprint ?? '',
      controlUrl,
      secondHostUrl,
      secondHostFingerprint: certificates.second?.fingerprint ?? '',
    });
    const controlServer = await startControlServer(control, info, opts.controlPort);
    cleanups.push(() => controlServer.close());
    controlUrl = controlServer.url;

    let stopping: Promise<void> | undefined;
    return {
      url,
      username: opts.username,
      password: opts.password,
      get fingerprint() {
        return certificates.coordinator?.fingerprint ?? '';
      },
      secondHostUrl,
      get secondHostFingerprint() {
        return certificates.second?.fingerprint ?? '';
      },
      controlUrl,
      control,
      info,
      stop: () => (stopping ??= cleanup()),
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
