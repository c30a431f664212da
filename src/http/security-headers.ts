import type { RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * Helmet's headers, tuned for a FHIR API that also serves the SMART review app, which EHRs embed
 * in an iframe (Epic Hyperspace, Cerner PowerChart). `frame-ancestors` names those EHRs; every
 * other directive stays as strict as an API allows: nothing inline, nothing from elsewhere.
 * https://www.w3.org/TR/CSP3/#directive-frame-ancestors
 *
 * `connect-src` adds the configured EHRs' origins, which the SMART review app calls directly.
 *
 * X-Frame-Options cannot list origins (ALLOW-FROM is dead), so it is sent (SAMEORIGIN) only while
 * no EHR is allowed to frame the app; browsers that know CSP ignore it in favour of frame-ancestors.
 */
export function securityHeaders(frameAncestors: readonly string[], connectOrigins: readonly string[] = []): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        // The review app calls the launching EHR's FHIR and OAuth endpoints from the browser.
        connectSrc: ["'self'", ...connectOrigins],
        fontSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'self'", ...frameAncestors],
        imgSrc: ["'self'", 'data:', 'blob:'],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        upgradeInsecureRequests: null,
      },
    },
    xFrameOptions: frameAncestors.length === 0 ? { action: 'sameorigin' } : false,
    // Tokens and PHI must never leak to another site through the Referer header.
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS only means something over TLS, which a reverse proxy terminates; harmless over http.
    strictTransportSecurity: { maxAge: 31536000, includeSubDomains: true },
  });
}

/**
 * Responses with patient data or tokens are never stored by browsers or intermediaries
 * (RFC 6749 §5.1 requires it for token responses). Public metadata stays cacheable.
 */
export const noStore: RequestHandler = (req, res, next) => {
  if (!req.path.startsWith('/.well-known/') && req.path !== '/fhir/R4/metadata') {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Pragma', 'no-cache');
  }
  next();
};

/** The distinct origins of some URLs (an EHR's FHIR base → the origin the browser connects to); unparseable ones are skipped. */
export function originsOf(urls: readonly string[]): string[] {
  return [
    ...new Set(
      urls.flatMap((url) => {
        try {
          return [new URL(url).origin];
        } catch {
          return [];
        }
      })
    ),
  ];
}
