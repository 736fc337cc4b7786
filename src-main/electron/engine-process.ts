// Entry of the utilityProcess that runs the engine: heavy work (HTTP streams, hashing, disk I/O) never runs
// on Electron's main thread.
import { serveEngineOnPort } from '../engine/engine-port-server.js';

const port = process.parentPort;
serveEngineOnPort(port, { onShutdown: () => process.exit(0) });
