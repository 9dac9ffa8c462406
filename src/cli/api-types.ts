/**
 * `npm run api:types`: writes the web UI's API types (web/src/api-schema.ts) from the server's own OpenAPI
 * document, so the UI is type-checked against the routes and response shapes the server declares.
 *
 * The document is built without a database or a listening socket: the Fastify app of `buildServer` with a
 * stand-in engine (building the routes only reads `engine.database` and `engine.onExecutionFinished`; no
 * handler runs), then `app.swagger()`. test/api-types.test.ts regenerates the file in memory and fails when
 * the checked-in one differs.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from 'openapi-typescript';
import { buildServer } from '../api/server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Where the UI's generated API types live (relative to the repository root). */
export const API_TYPES_FILE = 'web/src/api-schema.ts';

/** The server's OpenAPI document (`GET /api/openapi.json` of a server without an API token). */
export async function openApiDocument(): Promise<OpenAPI3> {
  const engine = {
    database: { db: null },
    onExecutionFinished: () => () => {},
  } as unknown as Parameters<typeof buildServer>[0]['engine'];
  const app = await buildServer({ engine, token: null, webDir: null });
  try {
    await app.ready();
    return structuredClone(app.swagger()) as unknown as OpenAPI3;
  } finally {
    await app.close();
  }
}

/** The text of web/src/api-schema.ts, formatted like the rest of the repository (Biome). */
export async function apiTypesSource(): Promise<string> {
  const ast = await openapiTS(await openApiDocument(), { alphabetize: false, silent: true });
  const header = `${COMMENT_HEADER.trim()}\n// Generated from the server's OpenAPI document by \`npm run api:types\` (src/cli/api-types.ts).\n\n`;
  return format(header + astToString(ast));
}

function format(source: string): string {
  return execFileSync(
    process.execPath,
    [`${ROOT}node_modules/@biomejs/biome/bin/biome`, 'format', `--stdin-file-path=${API_TYPES_FILE}`],
    { cwd: ROOT, input: source, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(`${ROOT}${API_TYPES_FILE}`, await apiTypesSource());
  console.log(`wrote ${API_TYPES_FILE}`);
}
