/**
 * Express middleware that admits a request only with a valid server-issued bearer token and puts
 * the caller's AccessContext in `res.locals.access`. Failures are 401 with a `WWW-Authenticate`
 * challenge (RFC 6750 §3) and a FHIR OperationOutcome body, since this guards the FHIR surface.
 * https://www.rfc-editor.org/rfc/rfc6750#section-3
 */
import type { RequestHandler, Response } from 'express';
import { errors } from 'jose';
import type { OperationOutcome } from '@medplum/fhirtypes';
import type { AccessContext } from './access-context';
import { UnknownSigningKeyError, verifyAccessToken, type TokenAudience } from './access-token';
import type { SigningKeys } from './signing-keys';

declare global {
  // Express's own extension point for a typed `res.locals`.
  namespace Express {
    interface Locals {
      /** Set by the bearer-auth middleware on every request it admits. */
      access?: AccessContext;
    }
  }
}

export interface BearerAuthOptions {
  readonly keys: SigningKeys;
  readonly audience: TokenAudience;
  /** How many verified tokens to remember (default 10,000). */
  readonly cacheSize?: number;
}

/** Why a token was refused: `login` means get a (new) token, `security` means this token is not acceptable. */
interface Refusal {
  readonly code: 'login' | 'security';
  readonly diagnostics: string;
}

const REALM = 'dermbridge';

/** Checks a bearer token and says who holds it; throws jose's typed errors for a bad token. */
export type TokenVerifier = (token: string) => Promise<{ access: AccessContext; expiresAt: number }>;

/** The token could not be checked at all (the issuer's keys are unreachable): 503, not 401. */
export class TokenVerifierUnavailableError extends Error {
  readonly code = 'ERR_TOKEN_VERIFIER_UNAVAILABLE';
}

export function createBearerAuth(options: BearerAuthOptions): RequestHandler {
  return createBearerAuthWith((token) => verifyAccessToken(options.keys, options.audience, token), { cacheSize: options.cacheSize });
}

/**
 * The same middleware around another verifier: production admits Medplum-issued tokens
 * (medplum-token-verifier.ts) with the same challenge, cache and error shape.
 * `signer` names who must have signed the token, in refusals.
 */
export function createBearerAuthWith(verify: TokenVerifier, options: { cacheSize?: number; signer?: string } = {}): RequestHandler {
  const cache = new VerifiedTokenCache(options.cacheSize ?? 10_000);
  const signer = options.signer ?? 'this server';
  return async (req, res, next) => {
    const token = bearerToken(req.headers.authorization);
    if (token === undefined) {
      // RFC 6750 §3.1: a request without credentials gets a challenge without an error code.
      res.setHeader('WWW-Authenticate', `Bearer realm="${REALM}"`);
      sendOutcome(res, { code: 'login', diagnostics: 'Missing bearer token (Authorization: Bearer <access token>)' });
      return;
    }
    const cached = cache.get(token);
    if (cached) {
      res.locals.access = cached;
      next();
      return;
    }
    try {
      const { access, expiresAt } = await verify(token);
      cache.set(token, access, expiresAt);
      res.locals.access = access;
      next();
    } catch (err) {
      if (err instanceof TokenVerifierUnavailableError) {
        sendUnavailable(res, err.message);
        return;
      }
      const refusal = refusalFor(err, signer);
      res.setHeader('WWW-Authenticate', `Bearer realm="${REALM}", error="invalid_token", error_description="${refusal.diagnostics}"`);
      sendOutcome(res, refusal);
    }
  };
}

function bearerToken(header: string | undefined): string | undefined {
  // The auth scheme is case-insensitive (RFC 9110 §11.1); the token is base64url and dots.
  const match = header === undefined ? null : /^Bearer +([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  return match?.[1];
}

function refusalFor(err: unknown, signer: string): Refusal {
  if (err instanceof errors.JWTExpired) {
    return { code: 'login', diagnostics: 'Access token expired' };
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof UnknownSigningKeyError) {
    return { code: 'security', diagnostics: `Access token signature is invalid (not signed by ${signer})` };
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return { code: 'security', diagnostics: 'Access token signing algorithm is not accepted' };
  }
  if (err instanceof errors.JWTClaimValidationFailed) {
    return { code: 'security', diagnostics: `Access token has an invalid ${err.claim} claim` };
  }
  if (err instanceof errors.JOSEError) {
    return { code: 'security', diagnostics: 'Access token is malformed' };
  }
  throw err;
}

function sendOutcome(res: Response, refusal: Refusal): void {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: refusal.code, details: { text: 'Unauthorized' }, diagnostics: refusal.diagnostics }],
  };
  res.status(401).type('application/fhir+json').send(JSON.stringify(outcome));
}

function sendUnavailable(res: Response, diagnostics: string): void {
  const outcome: OperationOutcome = {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'transient', details: { text: 'Service Unavailable' }, diagnostics }],
  };
  res.setHeader('Retry-After', '5');
  res.status(503).type('application/fhir+json').send(JSON.stringify(outcome));
}

/**
 * Verified tokens by their exact text, until they expire. A signature check costs ~0.2 ms of CPU;
 * a FHIR client sends the same token on thousands of requests. Only tokens that passed full
 * verification enter, and a hit still checks expiry. Oldest entries go first when full.
 */
class VerifiedTokenCache {
  private readonly entries = new Map<string, { access: AccessContext; expiresAt: number }>();

  constructor(private readonly limit: number) {}

  get(token: string): AccessContext | undefined {
    const entry = this.entries.get(token);
    if (entry && entry.expiresAt <= Date.now()) {
      // Expired: forget it and let verification report the expiry.
      this.entries.delete(token);
      return undefined;
    }
    return entry?.access;
  }

  set(token: string, access: AccessContext, expiresAt: number): void {
    if (this.entries.size >= this.limit) {
      this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(token, { access, expiresAt });
  }
}
