/** Stripe's v1 error responses: `{ error: { type, message, code?, param?, doc_url? } }` with the matching status. */

export type StripeErrorType = 'invalid_request_error' | 'api_error' | 'idempotency_error' | 'card_error';

export interface StripeErrorBody {
  error: { type: StripeErrorType; message: string; code?: string; param?: string; doc_url?: string };
}

export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly details: { code?: string; param?: string } = {},
    /**
     * Whether Stripe saves this result for an idempotency key. Requests that fail validation (bad or unknown
     * parameters) never began executing, so their result is not saved and the key stays free.
     */
    readonly savedForIdempotency = true,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): StripeErrorBody {
    const error: StripeErrorBody['error'] = { type: this.type, message: this.message };
    if (this.details.code) {
      error.code = this.details.code;
      error.doc_url = `https://stripe.com/docs/error-codes/${this.details.code.replace(/_/g, '-')}`;
    }
    if (this.details.param) error.param = this.details.param;
    return { error };
  }
}

/** A parameter Stripe would reject (400, not saved for idempotency). */
export function invalidParam(message: string, param?: string, code?: string): StripeApiError {
  return new StripeApiError(400, 'invalid_request_error', message, { param, code }, false);
}

export function missingParam(param: string): StripeApiError {
  return invalidParam(`Missing required param: ${param}.`, param, 'parameter_missing');
}

export function unknownParam(param: string): StripeApiError {
  return invalidParam(`Received unknown parameter: ${param}`, param, 'parameter_unknown');
}

/** A parameter Stripe accepts but this sandbox does not model: refused loudly rather than ignored. */
export function unsupportedParam(param: string): StripeApiError {
  return invalidParam(`The Stripe sandbox does not support the parameter: ${param}`, param, 'parameter_unknown');
}

/** `No such customer: 'cus_…'` — 404 for a path id, 400 when a parameter names a missing object. */
export function noSuch(kind: string, id: string, param = 'id', status = 404): StripeApiError {
  return new StripeApiError(status, 'invalid_request_error', `No such ${kind}: '${id}'`, {
    code: 'resource_missing',
    param,
  });
}
