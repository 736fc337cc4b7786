#!/usr/bin/env node
// The CLI runs the TypeScript engine directly through tsx, so `npx sluice` never runs a stale build.
import { register } from 'tsx/esm/api';

register();
await import('../src-main/cli/main.ts');
