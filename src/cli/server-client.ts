/**
 * The CLI's client of a running server's REST API (`/api/v1`): JSON requests with the API token, the API's error
 * shape turned back into its words, and an execution's Server-Sent Events followed to the end.
 */
import { ValidationError } from '../domain/errors.ts';

/** The error a server answered with, in its own words (`{ error: { code, message, details } }`). */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Checks a `--server` / `OTESSE_SYNC_URL` value: an http(s) URL, kept without a trailing slash. */
export function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ValidationError([{ path: 'server', message: `must be an http(s) URL, got "${value}"` }]);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError([{ path: 'server', message: `must be an http(s) URL, got "${value}"` }]);
  }
  return url.href.replace(/\/+$/, '');
}

export class ServerClient {
  readonly base: string;
  constructor(
    server: string,
    private readonly token: string | undefined,
  ) {
    this.base = serverUrl(server);
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }

  private async send(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/v1${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach the server at ${this.base}: ${cause?.code ?? cause?.message ?? String(err)}`);
    }
    if (res.ok) return res;
    const text = await res.text();
    let code = String(res.status);
    let message = text.slice(0, 300);
    try {
      const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
      if (parsed.error?.message) message = parsed.error.message;
      if (parsed.error?.code) code = parsed.error.code;
    } catch {
      // Not the API's shape (a proxy's page): keep the start of the text.
    }
    if (res.status === 401) {
      message = `the server at ${this.base} needs its API token: set OTESSE_SYNC_API_TOKEN (${message})`;
    }
    throw new ServerError(res.status, code, message);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    return (await res.json()) as T;
  }

  /**
   * Follows a Server-Sent Events stream, calling `onEvent` per event with its parsed `data` until it returns true;
   * resolves with that event's data. A stream that ends before then is an error.
   */
  async events<T>(path: string, onEvent: (event: string, data: T) => boolean): Promise<T> {
    const res = await this.send('GET', path, undefined, 'text/event-stream');
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true }).replaceAll('\r\n', '\n');
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length === 0) continue; // a comment (keep-alive)
          const parsed = JSON.parse(data.join('\n')) as T;
          if (onEvent(event, parsed)) return parsed;
        }
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    throw new Error(`the server at ${this.base} ended the event stream of ${path} before the execution finished`);
  }
}
