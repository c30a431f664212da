/**
 * `GET /oauth2/userinfo`: who the bearer of an access token is (OpenID Connect Core 1.0 §5.3), as
 * an EHR's identity provider answers it. Medplum's token exchange calls this endpoint of the
 * launching EHR with the EHR's access token and maps the answer (`email`, `sub`) to a user; the
 * embedded server plays that EHR in development and tests, and the exchange grant
 * (external-token-exchange.ts) calls it the same way.
 * https://openid.net/specs/openid-connect-core-1_0.html#UserInfo
 */
import type { RequestHandler } from 'express';

export interface UserInfoDeps {
  /** Our FHIR base: `fhirUser` is an absolute URL on it (SMART App Launch 2.2 §fhirUser). */
  readonly fhirBaseUrl: string;
  /** The user's email (`telecom` of system email), when the store has one. */
  emailOf(reference: string): Promise<string | undefined>;
}

const USER_TYPES = /^(Practitioner|Patient|RelatedPerson|Person)\/[A-Za-z0-9\-.]{1,64}$/;

/** Mount behind the bearer middleware, which has already answered 401 to a bad or expired token. */
export function createUserInfoHandler(deps: UserInfoDeps): RequestHandler {
  return async (_req, res, next) => {
    const access = res.locals.access;
    if (!access) {
      next(new TypeError('userinfo must be mounted behind the bearer middleware'));
      return;
    }
    res.setHeader('Cache-Control', 'no-store');
    // OIDC Core §5.3.3 / RFC 6750 §3.1: a token issued without `openid` is not for this endpoint.
    if (!access.scopes.includes('openid')) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="dermbridge", error="insufficient_scope", scope="openid"');
      res.status(403).json({ error: 'insufficient_scope', error_description: 'The access token was not granted the openid scope' });
      return;
    }
    try {
      const claims: Record<string, string> = { sub: access.subject };
      if (USER_TYPES.test(access.subject)) {
        claims.fhirUser = `${deps.fhirBaseUrl}/${access.subject}`;
        const email = await deps.emailOf(access.subject);
        if (email !== undefined) {
          claims.email = email;
        }
      }
      res.json(claims);
    } catch (err) {
      next(err);
    }
  };
}
