#!/usr/bin/env node
// Runs the TypeScript CLI directly (Node 22 + tsx's loader); no build step needed.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
