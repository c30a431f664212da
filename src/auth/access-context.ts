/**
 * Who is calling and what they may do, established by the bearer-token middleware and read by
 * every FHIR handler. Built only from a verified token, never from request input.
 */
export interface AccessContext {
  /** OAuth client that obtained the token. */
  readonly clientId: string;
  /**
   * FHIR reference of the acting principal: the user (`Practitioner/..`, `Patient/..`) for user or
   * patient tokens, or `ClientApplication/<clientId>` for a system client.
   */
  readonly subject: string;
  /** Scopes granted in the token (SMART v2 or v1 syntax, plus openid/fhirUser/launch etc.). */
  readonly scopes: readonly string[];
  /** Patient id in context; required for `patient/` scopes, which are limited to this patient's compartment. */
  readonly patientId?: string;
  /** Token id (`jti`), for audit. */
  readonly tokenId: string;
}

/** FHIR REST interactions as SMART v2 scopes name them (c r u d s). */
export type ScopeInteraction = 'c' | 'r' | 'u' | 'd' | 's';

/** The outcome of checking a request against the granted scopes. */
export type AccessDecision =
  | {
      readonly allowed: true;
      /** set when the grant is compartment-limited: `Patient/<id>` */
      readonly compartment?: string;
      /**
       * Set when only SMART v2 granular scopes (`patient/Observation.rs?category=...|laboratory`) allow the
       * request: the request is allowed only for resources matching at least one of these FHIR search
       * queries (the part after `?`, e.g. `category=http://...|laboratory`). A handler that cannot apply
       * them must deny. https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#finer-grained-resource-constraints-using-search-parameters
       */
      readonly filters?: readonly string[];
    }
  | { readonly allowed: false; readonly reason: string };
