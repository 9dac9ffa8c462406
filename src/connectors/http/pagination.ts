/**
 * Pagination styles of REST APIs, as pure functions: given the request that was made and the answer,
 * where is the next page (null at the end)? Connectors keep the returned cursor as the run's checkpoint,
 * so every cursor is a plain string.
 */

/** RFC 8288 `Link` header → its `rel="next"` URL, if any. */
export function nextLinkFromHeader(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;(.*)/.exec(part.trim());
    if (m && /\brel="?([^";]*\s)?next(\s[^";]*)?"?/.test(m[2]!)) return m[1]!;
  }
  return null;
}

/** Cursor style (`after=<token>`): the token the response names, or null. */
export function nextCursor(token: unknown): string | null {
  return typeof token === 'string' && token !== '' ? token : typeof token === 'number' ? String(token) : null;
}

/**
 * Offset style: the next offset, or null at the end. With the answer's total, the total decides (an API that caps
 * its page size below the one asked for answers short pages that are not the last); without it, a short page is
 * the last. An empty page always ends.
 */
export function nextOffset(offset: number, pageSize: number, received: number, total?: number): string | null {
  const next = offset + received;
  if (received === 0) return null;
  if (total !== undefined) return next < total ? String(next) : null;
  return received < pageSize ? null : String(next);
}

/**
 * Page-number style: the next page number, or null at the end. With the answer's page count, the count decides
 * (a capped page size makes short pages that are not the last); without it, a short page is the last.
 */
export function nextPageNumber(page: number, pageSize: number, received: number, totalPages?: number): string | null {
  if (received === 0) return null;
  if (totalPages !== undefined) return page < totalPages ? String(page + 1) : null;
  return received < pageSize ? null : String(page + 1);
}

/** Reads a value at a dot path of a JSON response (`data.items`), for "where records sit". */
export function atPath(body: unknown, path: string): unknown {
  if (path === '' || path === '.') return body;
  let cur: unknown = body;
  for (const seg of path.split('.')) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}
