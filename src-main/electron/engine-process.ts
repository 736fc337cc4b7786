// Entry of the utilityProcess that runs the engine: heavy work (HTTP streams, hashing, disk I/O) never runs
// on Electron's main thread.
import { serveEngineOnPort } from '../engine/engine-port-server.js';

// Headroom in libuv's thread pool (read when the pool first starts, after this module's imports): a stalled
// destination blocks the threads its writes run on, and the spool must still find one free.
process.env.UV_THREADPOOL_SIZE ??= '16';

const port = process.parentPort;
serveEngineOnPort(port, { onShutdown: () => process.exit(0) });
