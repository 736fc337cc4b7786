import { parseArgs } from 'node:util';
import { FAULT_KINDS } from './fault-spec.js';
import type { SimOptions } from './options.js';
import { PRESET_NAMES, type PresetName } from './presets.js';
import { parseSize } from './sizes.js';

export const HELP = `Usage: npm run sim -- [options]

Starts a simulated XCP-ng pool (two hosts) on 127.0.0.1 and prints one JSON line first on stdout:
{"url", "username", "password", "fingerprint", "controlUrl", "secondHostUrl", "secondHostFingerprint"}.
Serves until SIGINT or SIGTERM, then removes everything it created.

Pool
  --preset NAME          demo pool (${PRESET_NAMES.join(', ')}); the default when --vms is not given
  --vms N                N halted VMs "vm-01"…, one disk each, instead of a preset
  --disk-size SIZE       virtual size of each disk with --vms (default 1G; K/M/G/T binary units)
  --allocated FRACTION   share of each disk holding data with --vms (default 0.25)
  --seed N               seed of disk contents and MACs (default 1)
  --old-host             XenServer 7.5: SHA-1 XVA checksums, API 2.10, and vhd-tool's 2 s stall abort
                         on /export_raw_vdi
  --nbd                  VDI.get_nbd_info lists an endpoint (default: none, as without an NBD network)

Access
  --username NAME        (default root)
  --password WORD        (default xcp-sim)
  --login-failure-delay MS  delay before SESSION_AUTHENTICATION_FAILED (default 5000, as real hosts)
  --no-tls               plain HTTP instead of HTTPS with a fresh self-signed certificate
  --port N               coordinator port (default 0: any free port)
  --second-port N        second host port (default 0)
  --control-port N       control API port (default 0)

Faults (repeatable)   --fault KIND[=VALUE][,times=N][,host=coordinator|second][,on=any|export|export_raw_vdi|import|import_raw_vdi|vdi_copy]
  stall-abort=MS         give up an export when the client has not read for MS (task: VDI_IO_ERROR)
  rate-limit=SIZE        source delivers SIZE bytes per second (e.g. 20M)
  first-byte-delay=MS    headers at once, first body byte after MS
  drop-after=SIZE        cut the connection after SIZE body bytes (task: VDI_IO_ERROR)
  embedded-error         a 200 whose body is an "HTTP/1.1 500 Internal Error" response
  corrupt-checksum=N     wrong checksum file for XVA chunk number N
  redirect               302 Found to the other host, which serves the request
  slow-login=MS          session.login_with_password answers after MS
  Without times=N a fault is permanent. Known kinds: ${FAULT_KINDS.join(', ')}.

  --help                 this text
`;

export type CliResult = { help: true } | { help: false; options: SimOptions };

export function parseCli(argv: string[]): CliResult {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      help: { type: 'boolean', short: 'h' },
      preset: { type: 'string' },
      vms: { type: 'string' },
      'disk-size': { type: 'string' },
      allocated: { type: 'string' },
      seed: { type: 'string' },
      'old-host': { type: 'boolean' },
      nbd: { type: 'boolean' },
      username: { type: 'string' },
      password: { type: 'string' },
      'login-failure-delay': { type: 'string' },
      'no-tls': { type: 'boolean' },
      port: { type: 'string' },
      'second-port': { type: 'string' },
      'control-port': { type: 'string' },
      fault: { type: 'string', multiple: true },
    },
  });
  if (values.help) return { help: true };
  const int = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} needs a non-negative integer, not "${text}"`);
    return n;
  };
  if (values.preset !== undefined && !(PRESET_NAMES as readonly string[]).includes(values.preset)) {
    throw new Error(`unknown preset "${values.preset}" (known: ${PRESET_NAMES.join(', ')})`);
  }
  if (values.preset !== undefined && values.vms !== undefined) throw new Error('use either --preset or --vms');
  const allocated = values.allocated === undefined ? undefined : Number(values.allocated);
  if (allocated !== undefined && !(allocated >= 0 && allocated <= 1))
    throw new Error('--allocated needs a fraction within 0..1');
  const options: SimOptions = {
    vms:
      values.vms !== undefined ? int('vms', values.vms) : ((values.preset as PresetName | undefined) ?? 'small-shop'),
    diskSize: values['disk-size'] === undefined ? undefined : parseSize(values['disk-size']),
    allocatedFraction: allocated,
    seed: int('seed', values.seed),
    oldHost: values['old-host'] ?? false,
    nbd: values.nbd ?? false,
    username: values.username,
    password: values.password,
    loginFailureDelayMs: int('login-failure-delay', values['login-failure-delay']),
    tls: !values['no-tls'],
    port: int('port', values.port),
    secondHostPort: int('second-port', values['second-port']),
    controlPort: int('control-port', values['control-port']),
    faults: values.fault ?? [],
  };
  return { help: false, options };
}
