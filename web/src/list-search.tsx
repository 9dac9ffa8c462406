/**
 * Long lists, paged by the server: a search box by name (sent once typing pauses) and the line that says which
 * rows of how many are shown. The pages themselves are `useCursorPages` and `Pager` (ui.tsx).
 */
import { useEffect, useId, useState } from 'react';

/** How long typing must pause before a search is sent. */
export const SEARCH_DEBOUNCE_MS = 250;

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms = SEARCH_DEBOUNCE_MS): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return settled;
}

/**
 * Whether a list shows its search box: once it has held more than a page (and from then on, so the box does not
 * vanish while a search narrows the list), or while a search is typed.
 */
export function useSearchable(search: string, total: number | undefined, pageSize: number): boolean {
  const [long, setLong] = useState(false);
  if (!long && total !== undefined && total > pageSize) setLong(true);
  return long || search !== '';
}

/** A labelled search box (Escape clears it). */
export function SearchBox({
  label,
  value,
  onChange,
  placeholder,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
}) {
  const id = useId();
  return (
    <div className="list-search">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        type="search"
        value={value}
        placeholder={placeholder}
        maxLength={200}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => onChange(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape' && value !== '') {
            e.preventDefault();
            onChange('');
          }
        }}
      />
    </div>
  );
}

/** "51–100 of 2,000 jobs", or "3 jobs match “abc”" on a search's single page. */
export function RangeLine({
  page,
  pageSize,
  shown,
  total,
  noun,
  search,
}: {
  page: number;
  pageSize: number;
  shown: number;
  total: number;
  noun: [singular: string, plural: string];
  search: string;
}) {
  const n = (x: number) => x.toLocaleString();
  const word = total === 1 ? noun[0] : noun[1];
  const first = (page - 1) * pageSize + 1;
  const matching = search ? ` matching “${search}”` : '';
  const text =
    shown === total
      ? `${n(total)} ${word}${matching}`
      : `${n(first)}–${n(first + shown - 1)} of ${n(total)} ${word}${matching}`;
  return (
    <p className="range-line muted" aria-live="polite" data-testid="range-line">
      {text}
    </p>
  );
}
