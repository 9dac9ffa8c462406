import { describe, expect, it } from 'vitest';
import { buildGraph, findCycles, importsOf, sourceFiles } from './helpers/import-graph.ts';

/**
 * The dependency rules of DESIGN.md "Layout", checked on the import graph of `src/` (type-only imports
 * and `import()` count as imports).
 */

const COMPOSITION_ROOT = 'src/sync-engine.ts';
const isTest = (file: string) => /\.test\.tsx?$/.test(file);

describe('import graph checks (on graphs made up here)', () => {
  it('finds every kind of import, type-only ones included', () => {
    const text = `
      import { a } from './a.ts';
      import type { B } from './b.ts';
      import { type C, type D } from './c.ts';
      import { type E, e } from './e.ts';
      import './side-effect.ts';
      export { f } from './f.ts';
      export type { G } from './g.ts';
      export type * from './h.ts';
      export * from './i.ts';
      import fs from 'node:fs';
      import { z } from 'zod';
      type J = import('./j.ts').J;
      const k = await import('./k.ts');
      export const l: typeof import('./l.ts') = k;`;
    expect(importsOf('src/x/m.ts', text)).toEqual([
      { specifier: './a.ts', kind: 'value' },
      { specifier: './b.ts', kind: 'type' },
      { specifier: './c.ts', kind: 'type' },
      { specifier: './e.ts', kind: 'value' },
      { specifier: './side-effect.ts', kind: 'value' },
      { specifier: './f.ts', kind: 'value' },
      { specifier: './g.ts', kind: 'type' },
      { specifier: './h.ts', kind: 'type' },
      { specifier: './i.ts', kind: 'value' },
      { specifier: 'node:fs', kind: 'value' },
      { specifier: 'zod', kind: 'value' },
      { specifier: './j.ts', kind: 'type' },
      { specifier: './k.ts', kind: 'dynamic' },
      { specifier: './l.ts', kind: 'type' },
    ]);
  });

  it('resolves relative imports to files and reports each cycle once, as a path', () => {
    const files = new Map([
      ['src/a.ts', "import type { B } from './b.ts'; import { b } from './b.ts';"],
      ['src/b.ts', "import type { A } from './a.ts'; import { c } from './sub/c.ts';"],
      ['src/sub/c.ts', "import { d } from '../d.js'; export const c = 1;"],
      ['src/d.ts', "import { b } from './b.ts'; import { z } from 'zod';"],
      ['src/e.ts', "import { e } from './e.ts'; import { a } from './a.ts';"],
      ['src/f.ts', "import { a } from './a.ts'; import { g } from './missing.ts';"],
    ]);
    const { graph, unresolved } = buildGraph(files);
    expect(graph.get('src/sub/c.ts')).toEqual([{ to: 'src/d.ts', kind: 'value' }]);
    expect(unresolved).toEqual(['src/f.ts: ./missing.ts']);
    expect(findCycles(graph)).toEqual([
      'src/a.ts → src/b.ts → (type) src/a.ts',
      'src/b.ts → src/sub/c.ts → src/d.ts → src/b.ts',
      'src/e.ts → src/e.ts',
    ]);
  });

  it('finds nothing in a graph without cycles', () => {
    const { graph } = buildGraph(
      new Map([
        ['src/a.ts', "import { b } from './b.ts'; import { c } from './c.ts';"],
        ['src/b.ts', "import { c } from './c.ts';"],
        ['src/c.ts', 'export const c = 1;'],
      ]),
    );
    expect(findCycles(graph)).toEqual([]);
  });
});

describe('src/ follows the dependency rules of DESIGN.md', () => {
  const files = sourceFiles('src');
  const { graph, unresolved } = buildGraph(files);
  const edges = [...graph].flatMap(([from, list]) => list.map((e) => ({ from, ...e })));

  it('every relative import resolves to a file', () => {
    expect(unresolved).toEqual([]);
  });

  it('has no import cycles, type-only imports included', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('only api, cli and bench import the composition root (src/index.ts re-exports it as the library API)', () => {
    const allowed = (file: string) =>
      file.startsWith('src/api/') || file.startsWith('src/cli/') || file === 'src/index.ts' || isTest(file);
    const importers = edges.filter((e) => e.to === COMPOSITION_ROOT && !allowed(e.from)).map((e) => e.from);
    expect([...new Set(importers)].sort()).toEqual([]);
  });

  it('domain imports nothing of ours', () => {
    const outside = edges
      .filter((e) => e.from.startsWith('src/domain/') && !e.to.startsWith('src/domain/'))
      .map((e) => `${e.from} → ${e.to}`);
    const selfPackage = [...files]
      .filter(([file]) => file.startsWith('src/domain/'))
      .flatMap(([file, text]) =>
        importsOf(file, text)
          .filter((i) => i.specifier === 'otesse-sync' || i.specifier.startsWith('otesse-sync/'))
          .map((i) => `${file} → ${i.specifier}`),
      );
    expect([...outside, ...selfPackage]).toEqual([]);
  });

  it('reads the whole tree', () => {
    expect(files.has('src/index.ts')).toBe(true);
    expect(files.size).toBeGreaterThan(20);
  });
});
