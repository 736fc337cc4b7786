import { stopSharedCeph } from './ceph-s3-shared.js';

/** vitest globalSetup: nothing before the run; after it, what the suites shared (the S3 gateway) is stopped. */
export default function setup(): () => Promise<void> {
  return stopSharedCeph;
}
