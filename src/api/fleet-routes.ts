/**
 * The fleet overview route under `/api/v1`: the console's first screen (runs per hour by status over the last
 * 24 hours, the jobs failing now, open dead letters, totals), from a few aggregate queries (src/services/fleet.ts).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import * as z from 'zod';
import { parseInput } from '../domain/validate.ts';
import type { SyncEngine } from '../sync-engine.ts';
import * as doc from './openapi.ts';

/** Registers the fleet routes on the `/api/v1` instance. */
export function registerFleetRoutes(api: FastifyInstance, engine: SyncEngine): void {
  api.get(
    '/fleet/overview',
    {
      schema: {
        summary: 'The fleet at a glance: runs per hour by status (24 h), jobs failing now, dead letters, totals',
        description:
          'Runs per hour count the executions created in each of the last 24 hours (UTC), by their status now. A job ' +
          'is failing when its newest finished whole run (single-record runs aside) failed or timed out.',
        tags: ['fleet'],
        response: { 200: doc.ref('FleetOverview'), ...doc.errors },
      },
    },
    async (req: FastifyRequest) => {
      parseInput(z.strictObject({}), req.query ?? {});
      return engine.fleet.overview();
    },
  );
}
