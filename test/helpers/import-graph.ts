import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/**
 * The import graph of the repository's TypeScript, read with the TypeScript parser so that every form
 * counts: `import`, `import type`, `export … from`, `export type * from`, `import()` and `import('…')` types.
 * Used by test/architecture.test.ts.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type EdgeKind = 'value' | 'type' | 'dynamic';
export interface Import {
  specifier: string;
  kind: EdgeKind;
}
export interface Edge {
  to: string;
  kind: EdgeKind;
}
export type Graph = Map<string, Edge[]>;
const WEIGHT = { none: 0, type: 1, dynamic: 2, value: 3 } as const;

/** Every module specifier a file imports or re-exports, with how (a type-only import is still an import). */
export function importsOf(fileName: string, text: string): Import[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, scriptKind(fileName));
  const found: Import[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        !!clause &&
        (clause.isTypeOnly ||
          (!clause.name &&
            !!clause.namedBindings &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      found.push({ specifier: node.moduleSpecifier.text, kind: typeOnly ? 'type' : 'value' });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.exportClause;
      const typeOnly =
        node.isTypeOnly ||
        (!!clause &&
          ts.isNamedExports(clause) &&
          clause.elements.length > 0 &&
          clause.elements.every((e) => e.isTypeOnly));
      found.push({ specifier: node.moduleSpecifier.text, kind: typeOnly ? 'type' : 'value' });
    } else if (
      ts.isImportEqualsDeclaration(node) &&
      ts.isExternalModuleReference(node.moduleReference) &&
      ts.isStringLiteral(node.moduleReference.expression)
    ) {
      found.push({ specifier: node.moduleReference.expression.text, kind: node.isTypeOnly ? 'type' : 'value' });
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push({ specifier: node.arguments[0].text, kind: 'dynamic' });
    } else if (
      ts.isImportTypeNode(node) &&
      ts.isLiteralTypeNode(node.argument) &&
      ts.isStringLiteral(node.argument.literal)
    ) {
      found.push({ specifier: node.argument.literal.text, kind: 'type' });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function scriptKind(fileName: string): ts.ScriptKind {
  return fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS;
}

/** A relative specifier's file (repository-relative, `/`-separated), or null for packages and `node:`. */
function resolveImport(fromFile: string, specifier: string, exists: (file: string) => boolean): string | null {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return null;
  const base = join(dirname(fromFile), specifier).split(sep).join('/');
  const candidates = [
    base,
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.jsx$/, '.tsx'),
    `${base}.ts`,
    `${base}.tsx`,
    `${base}/index.ts`,
  ];
  return candidates.find((c) => /\.tsx?$/.test(c) && exists(c)) ?? `${base} (unresolved)`;
}

/** The import graph of the given files: file → files it imports (only files of the graph). */
export function buildGraph(files: Map<string, string>): { graph: Graph; unresolved: string[] } {
  const graph: Graph = new Map();
  const unresolved: string[] = [];
  for (const [file, text] of files) {
    // One edge per imported file; a value import outweighs `import()`, which outweighs a type-only import.
    const edges = new Map<string, EdgeKind>();
    for (const imp of importsOf(file, text)) {
      const to = resolveImport(file, imp.specifier, (f) => files.has(f) || existsSync(join(ROOT, f)));
      if (to === null) continue;
      if (to.endsWith('(unresolved)')) unresolved.push(`${file}: ${imp.specifier}`);
      else if (files.has(to) && WEIGHT[imp.kind] > WEIGHT[edges.get(to) ?? 'none']) edges.set(to, imp.kind);
    }
    graph.set(
      file,
      [...edges].map(([to, kind]) => ({ to, kind })),
    );
  }
  return { graph, unresolved };
}

/** Strongly connected components (Tarjan); a component with a cycle has two or more files or a self-import. */
function stronglyConnected(graph: Graph): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!indexOf.has(to)) {
        connect(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, indexOf.get(to)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!indexOf.has(v)) connect(v);
  return components;
}

/**
 * Every import cycle, as readable paths `a → b → a` (`→ (type)` marks a type-only import, `→ (dynamic)` an
 * `import()`): for each import that lies on a cycle, the shortest cycle through it, without repeats. Fixing
 * all listed cycles removes every cycle.
 */
export function findCycles(graph: Graph): string[] {
  const cycles = new Map<string, string>();
  for (const component of stronglyConnected(graph)) {
    const members = new Set(component);
    for (const from of component) {
      for (const edge of graph.get(from) ?? []) {
        if (!members.has(edge.to)) continue;
        // Shortest path edge.to ⇝ from inside the component (breadth first), closing the cycle.
        const back = new Map<string, { prev: string; kind: EdgeKind } | null>([[edge.to, null]]);
        const queue = [edge.to];
        while (queue.length > 0 && !back.has(from)) {
          const v = queue.shift()!;
          for (const e of graph.get(v) ?? []) {
            if (members.has(e.to) && !back.has(e.to)) {
              back.set(e.to, { prev: v, kind: e.kind });
              queue.push(e.to);
            }
          }
        }
        const path: { file: string; kind: EdgeKind }[] = [];
        for (let v = from; v !== edge.to; ) {
          const step = back.get(v)!;
          path.unshift({ file: v, kind: step.kind });
          v = step.prev;
        }
        // The cycle from → edge.to ⇝ from, written from its smallest file so that rotations compare equal.
        const files = [from, edge.to, ...path.map((p) => p.file)].slice(0, -1);
        const kinds = [edge.kind, ...path.map((p) => p.kind)];
        const start = files.indexOf([...files].sort()[0]!);
        const rotated = [...files.slice(start), ...files.slice(0, start)];
        const rotatedKinds = [...kinds.slice(start), ...kinds.slice(0, start)];
        const text =
          rotated.map((f, i) => `${f} ${rotatedKinds[i] === 'value' ? '→' : `→ (${rotatedKinds[i]})`} `).join('') +
          rotated[0];
        cycles.set(text, text);
      }
    }
  }
  return [...cycles.keys()].sort();
}

export function sourceFiles(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of readdirSync(join(ROOT, rel)).sort()) {
      const path = `${rel}/${name}`;
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (/\.tsx?$/.test(name)) files.set(path, readFileSync(join(ROOT, path), 'utf8'));
    }
  };
  walk(dir);
  return files;
}
