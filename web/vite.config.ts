import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 600,
    sourcemap: false,
  },
  server: {
    // `otesse-sync serve` listens on 4310 by default; OTESSE_SYNC_API overrides.
    proxy: { '/api': process.env.OTESSE_SYNC_API ?? 'http://127.0.0.1:4310' },
  },
});
