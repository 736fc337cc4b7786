// `npm run sim -- [options]`: a standalone simulated pool for manual testing and demos (see --help).
import { HELP, parseCli } from './cli-args.js';
import { startSimulator } from './simulator.js';

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseCli(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`xapi-sim: ${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
    process.exitCode = 2;
    return;
  }
  if (parsed.help) {
    process.stdout.write(HELP);
    return;
  }
  const sim = await startSimulator(parsed.options);
  // The first stdout line is the machine-readable handle; scripts read it and nothing else.
  process.stdout.write(`${JSON.stringify(sim.info())}\n`);
  process.stderr.write(`xapi-sim: serving ${sim.url} (control ${sim.controlUrl}); Ctrl-C to stop\n`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`xapi-sim: ${signal}, stopping\n`);
    sim.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`xapi-sim: cleanup failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`xapi-sim: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
