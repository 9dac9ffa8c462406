import { writeFileSync } from 'node:fs';
import { openDatabase } from '../store/database.ts';
import { describeSchema } from '../store/describe.ts';
import { migrate } from '../store/migrate.ts';

/** Rewrites src/store/schema.sql from the migrations, applied to a fresh in-memory PGlite. */
const database = await openDatabase({ database: 'memory://' });
try {
  await migrate(database);
  writeFileSync(new URL('../store/schema.sql', import.meta.url), await describeSchema(database));
  console.log('wrote src/store/schema.sql');
} finally {
  await database.close();
}
