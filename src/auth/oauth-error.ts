/**
 * OAuth 2.0 token-endpoint errors, answered in OAuth's JSON format, never as OperationOutcome.
 * https://www.rfc-editor.org/rfc/rfc6749#section-5.2
 */
import type { Response } from 'express';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'temporarily_unavailable';

/** Thrown by token-endpoint logic; the route turns it into the response. */
export class OAuthError extends Error {
  constructor(
    readonly error: OAuthErrorCode,
    readonly description: string,
    /** RFC 6749 §5.2: a client that tried the Authorization header gets 401 and a Basic challenge. */
    readonly challengeBasic = false,
    /** Overrides the status, e.g. 503 when an upstream identity provider is down (not the caller's fault). */
    private readonly statusOverride?: number,
  ) {
    super(description);
  }

  /** 401 for failed client authentication, 400 for everything else (RFC 6749 §5.2). */
  get status(): number {
    if (this.statusOverride !== undefined) {
      return this.statusOverride;
    }
    return this.error === 'invalid_client' ? 401 : this.error === 'temporarily_unavailable' ? 429 : 400;
  }
}

export function sendOAuthError(res: Response, err: OAuthError): void {
  if (err.challengeBasic) {
    res.setHeader('WWW-Authenticate', 'Basic realm="dermbridge"');
  }
  // RFC 6749 §5.1: token responses, errors included, must not be cached.
  res.setHeader('Cache-Control', 'no-store');
  res.status(err.status).json({ error: err.error, error_description: err.description });
}
