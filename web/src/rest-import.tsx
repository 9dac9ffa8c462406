/**
 * Ways to fill the REST form without typing it all (issue 16): an OpenAPI document (pasted, uploaded or fetched
 * by the server from a URL) whose proposed entity types the user picks, and the server's example configs.
 * Whatever they bring lands in the form for review; nothing is saved here.
 */
import { useMutation, useQuery } from '@tanstack/react-query';
import { type KeyboardEvent, useId, useState } from 'react';
import { ApiError } from './api.ts';
import { type ImportedEntity, type OpenApiImport, type RestExample, restApi } from './rest-builder-api.ts';
import { Words } from './rest-stream-test.tsx';
import { errorMessage, Field } from './ui.tsx';

/** Enter in a one-line input of these panels must not submit the connection form around them. */
const noSubmit = (e: KeyboardEvent) => {
  if (e.key === 'Enter') e.preventDefault();
};

export function StartFromExample({ onPick }: { onPick: (example: RestExample) => void }) {
  const examples = useQuery({ queryKey: ['rest-examples'], queryFn: restApi.examples, staleTime: 300_000 });
  const [chosen, setChosen] = useState('');
  if (examples.isPending) return null;
  if (examples.isError) {
    // Before the server has examples (404), the form simply starts blank.
    if (examples.error instanceof ApiError && examples.error.status === 404) return null;
    return <p className="help">Examples are not available: {errorMessage(examples.error)}</p>;
  }
  if (examples.data.length === 0) return null;
  const example = examples.data.find((x) => x.name === chosen);
  return (
    <div className="rest-example">
      <Field
        label="Example"
        help={example ? <Words text={example.description} /> : 'A known API described for this form: a starting point.'}
      >
        {(props) => (
          <select {...props} value={chosen} onChange={(e) => setChosen(e.target.value)}>
            <option value="">Choose an example…</option>
            {examples.data.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name}
              </option>
            ))}
          </select>
        )}
      </Field>
      <button type="button" className="btn" disabled={!example} onClick={() => example && onPick(example)}>
        Start from example
      </button>
      <span className="help">Replaces what the form holds.</span>
    </div>
  );
}

type Source = 'text' | 'url';

export function OpenApiImportPanel({
  onAdd,
}: {
  /** The picked entity types, with the document's base URL and auth (the form fills them where blank). */
  onAdd: (entities: ImportedEntity[], from: Pick<OpenApiImport, 'baseUrl' | 'auth' | 'title'>) => void;
}) {
  const id = useId();
  const [source, setSource] = useState<Source>('text');
  const [document, setDocument] = useState('');
  const [url, setUrl] = useState('');
  const [fileProblem, setFileProblem] = useState<string | null>(null);
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const [added, setAdded] = useState<string | null>(null);
  const read = useMutation({
    mutationFn: () => restApi.openApiImport(source === 'url' ? { url: url.trim() } : { document }),
    onMutate: () => setAdded(null),
    onSuccess: (r) => setPicked(new Set(r.entities.map((e) => e.name))),
  });
  const result = read.data;

  const readFile = (file: File | undefined) => {
    setFileProblem(null);
    if (!file) return;
    file.text().then(setDocument, (err: unknown) => setFileProblem(`cannot read ${file.name}: ${errorMessage(err)}`));
  };
  const errAt = (path: string) => (read.error instanceof ApiError ? read.error.fieldError(path) : undefined);

  return (
    <details className="rest-panel">
      <summary>Import from OpenAPI</summary>
      <p className="help">
        Reads an OpenAPI (Swagger) document and proposes entity types from its list endpoints. Pick the ones to add;
        they land in the form below for review.
      </p>
      <fieldset className="choices-inline">
        <legend className="sr-only">Where the document is</legend>
        <label className="choice">
          <input type="radio" name={`${id}-source`} checked={source === 'text'} onChange={() => setSource('text')} />{' '}
          Paste or upload
        </label>
        <label className="choice">
          <input type="radio" name={`${id}-source`} checked={source === 'url'} onChange={() => setSource('url')} /> From
          a URL
        </label>
      </fieldset>
      {source === 'url' ? (
        <Field
          label="OpenAPI document URL"
          error={errAt('url')}
          help="The server fetches it (the outbound policy applies)."
        >
          {(props) => (
            <input
              {...props}
              type="url"
              value={url}
              spellCheck={false}
              placeholder="https://api.example.com/openapi.json"
              onKeyDown={noSubmit}
              onChange={(e) => setUrl(e.target.value)}
            />
          )}
        </Field>
      ) : (
        <>
          <Field label="OpenAPI file" error={fileProblem ?? undefined} help="JSON or YAML; its text is put below.">
            {(props) => (
              <input
                {...props}
                type="file"
                accept=".json,.yaml,.yml,application/json,application/yaml,text/yaml"
                onChange={(e) => readFile(e.target.files?.[0])}
              />
            )}
          </Field>
          <Field label="OpenAPI document (JSON or YAML)" error={errAt('document')}>
            {(props) => (
              <textarea
                {...props}
                className="mono"
                rows={6}
                spellCheck={false}
                value={document}
                onChange={(e) => setDocument(e.target.value)}
              />
            )}
          </Field>
        </>
      )}
      <div className="actions">
        <button
          type="button"
          className="btn"
          disabled={read.isPending || (source === 'url' ? url.trim() === '' : document.trim() === '')}
          onClick={() => read.mutate()}
        >
          {read.isPending ? 'Reading…' : 'Read document'}
        </button>
      </div>
      <div aria-live="polite">
        {read.isError && !errAt('url') && !errAt('document') && (
          <p className="notice notice-bad" role="alert">
            <strong>The document could not be read.</strong> {errorMessage(read.error)}
          </p>
        )}
        {result && (
          <div className="rest-import-result">
            <p>
              <strong>{result.title || 'Untitled API'}</strong>
              {result.baseUrl && (
                <>
                  {' '}
                  at <code>{result.baseUrl}</code>
                </>
              )}
              {typeof result.auth?.type === 'string' && result.auth.type !== 'none' && (
                <> · {String(result.auth.type)} auth</>
              )}
            </p>
            {result.warnings.length > 0 && (
              <ul className="notice notice-warn">
                {result.warnings.map((w) => (
                  <li key={w}>
                    <Words text={w} />
                  </li>
                ))}
              </ul>
            )}
            {result.entities.length === 0 ? (
              <p className="muted">The document has no list endpoints to propose.</p>
            ) : (
              <fieldset>
                <legend>Entity types found</legend>
                {result.entities.map((e) => (
                  <div key={e.name} className="field-check">
                    <label>
                      <input
                        type="checkbox"
                        checked={picked.has(e.name)}
                        onChange={(ev) =>
                          setPicked((s) => {
                            const next = new Set(s);
                            if (ev.target.checked) next.add(e.name);
                            else next.delete(e.name);
                            return next;
                          })
                        }
                      />{' '}
                      Add {e.name}{' '}
                      <span className="muted">
                        (GET <code>{e.listPath}</code>)
                      </span>
                    </label>
                    {e.notes.length > 0 && (
                      <ul className="help">
                        {e.notes.map((n) => (
                          <li key={n}>
                            <Words text={n} />
                          </li>
                        ))}
                      </ul>
                    )}
                  </div>
                ))}
                <div className="actions">
                  <button
                    type="button"
                    className="btn btn-primary"
                    disabled={picked.size === 0}
                    onClick={() => {
                      const chosen = result.entities.filter((e) => picked.has(e.name));
                      onAdd(chosen, result);
                      setAdded(chosen.map((e) => e.name).join(', '));
                    }}
                  >
                    Add selected entity types
                  </button>
                </div>
              </fieldset>
            )}
            {added && (
              <p className="notice notice-ok" role="status">
                Added {added}: review them below, then test their streams.
              </p>
            )}
          </div>
        )}
      </div>
    </details>
  );
}
