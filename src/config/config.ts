/**
 * Everything the server needs to know about its environment, read and validated once
 * (see load-config.ts) and passed down; no other module reads `process.env`.
 */
export interface Config {
  /** TCP port the HTTP server listens on. */
  readonly port: number;
  /** Interface to bind; loopback by default so a fresh install exposes nothing. */
  readonly host: string;
  /** Public base URL, with trailing slash, e.g. `http://localhost:8103/`. Used in fullUrl, links, `iss`, `aud`. */
  readonly baseUrl: string;
  /** Directory holding the SQLite database and the server's signing keys. */
  readonly dataDir: string;
  /** Directory of FHIR conformance resources (StructureDefinitions, ValueSets, Questionnaires) to load at start. */
  readonly profilesDir: string;
  /** Largest accepted request body, in bytes (FHIR JSON and Binary uploads alike). */
  readonly maxBodyBytes: number;
  /** Lifetime of issued access tokens, in seconds. */
  readonly accessTokenLifetimeSeconds: number;
  /** The client seeded at start so a new user can get a token; id and secret come from env. */
  readonly demoClient: { readonly clientId: string; readonly clientSecret: string };
  /** Load demo patients and cases at start (the `npm start` quick start). */
  readonly seedDemoData: boolean;
  /**
   * Where cases live. `embedded`: this process's own FHIR server (the default). `medplum`: a real
   * Medplum server (production, docker-compose), reached with client credentials.
   */
  readonly store: StoreTarget;
  /**
   * Browser origins allowed to call the API cross-origin (CORS), e.g. the review app's origin or an
   * EHR's. Empty: no cross-origin access except the public `/.well-known/*` metadata.
   */
  readonly corsOrigins: readonly string[];
  /**
   * Who may frame the app (CSP `frame-ancestors`): `'self'` plus the EHR origins that embed the
   * SMART review app. Default `'self'` only.
   */
  readonly frameAncestors: readonly string[];
  /**
   * The SMART review app (`smart-launch/`): the EHRs allowed to launch it. The embedded server is
   * always one of them (it plays the EHR in development); more come from `DERMBRIDGE_SMART_EHRS`.
   */
  readonly smart: SmartConfig;
  /** pino log level. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export type StoreTarget = { readonly kind: 'embedded' } | MedplumStoreTarget;

/**
 * Production: a real Medplum server holds the cases, issues every access token and runs the bots.
 * dermbridge serves no FHIR API and issues no tokens of its own then (see src/app.ts).
 */
export interface MedplumStoreTarget {
  readonly kind: 'medplum';
  /** Where dermbridge reaches Medplum (`MEDPLUM_BASE_URL`), with trailing slash, e.g. `http://medplum:8103/`. */
  readonly baseUrl: string;
  /** dermbridge's own ClientApplication at Medplum (server-side work: sync, bot deployment). */
  readonly clientId: string;
  readonly clientSecret: string;
  /**
   * `iss` of Medplum's access tokens (Medplum's `issuer`, by default its public base URL). Differs
   * from `baseUrl` when dermbridge reaches Medplum by an internal name (`http://medplum:8103/` in
   * docker-compose) while Medplum signs with its public URL.
   */
  readonly issuer: string;
  /** Medplum's public signing keys (`<baseUrl>.well-known/jwks.json`), to verify callers' tokens. */
  readonly jwksUrl: string;
  /** Deploy the bots (`bots/medplum.config.json`) to Medplum before serving. */
  readonly deployBotsOnStart: boolean;
}

/** One EHR that may launch the review app (SMART App Launch: the app's registration at that EHR). */
export interface SmartEhr {
  /** Shown in messages, e.g. "Epic (Riverside)". */
  readonly name: string;
  /** The EHR's FHIR base URL, exactly as it sends it in `iss`. */
  readonly issuer: string;
  /** The app's client id at that EHR. */
  readonly clientId: string;
  /** Where that EHR sends the browser back (as registered there); default the app's own index page. */
  readonly redirectUri?: string;
  /** Scopes to request there (default: the app's SMART v2 scopes). */
  readonly scope?: string;
  /** Origins allowed to frame the app for this EHR (CSP `frame-ancestors`). */
  readonly frameAncestors: readonly string[];
  /**
   * Whether, and how, users this EHR launched may exchange its tokens for a dermbridge case-store
   * token (`POST /smart/case-store-token`, src/auth/case-store-token-exchange.ts). Absent: no exchange.
   */
  readonly caseStoreAccess?: EhrCaseStoreAccess;
  /**
   * Medplum-style token exchange of this EHR's access token for a case-store token (RFC 8693 at the
   * case store's own `/oauth2/token`, docs/adr/0007-case-store-token-exchange.md). With Medplum as
   * the store only `clientId` is read (the ClientApplication there holds the identity provider);
   * the embedded server reads the rest, playing that ClientApplication itself.
   */
  readonly tokenExchange?: EhrTokenExchange;
}

/**
 * The case store's client for exchanging one EHR's access tokens: a Medplum ClientApplication
 * with `identityProvider` (Medplum), or its equivalent at the embedded server.
 */
export interface EhrTokenExchange {
  /** The `client_id` of the exchange (Medplum: the ClientApplication id). */
  readonly clientId: string;
  /** The EHR's OpenID Connect UserInfo endpoint; the embedded server calls it with the subject token. */
  readonly userInfoUrl?: string;
  /**
   * Which UserInfo claim names the user, and how it maps to a case-store Practitioner:
   * `email` (Medplum's default: `Practitioner.telecom` email), `sub` (Medplum's `useSubject`:
   * `Practitioner.identifier` in `subjectIdentifierSystem`, as ProjectMembership.externalId), or
   * `fhirUser` (`Practitioner.identifier` `urn:ietf:rfc:3986|<absolute fhirUser URL>`).
   */
  readonly identitySource: 'email' | 'sub' | 'fhirUser';
  /** With `identitySource: sub`: the identifier system that holds the EHR's `sub`. */
  readonly subjectIdentifierSystem?: string;
  /** Scopes the exchanged token may carry at the embedded server (Medplum: the user's AccessPolicy). */
  readonly scopes: readonly string[];
  /** Scopes the app asks for (default: the `user/` scopes of the app's request). */
  readonly requestScope?: string;
  /** Lifetime of an exchanged token at the embedded server (Medplum: its own, one hour). */
  readonly tokenLifetimeSeconds: number;
}

/** The token exchange's trust in one EHR: whose id_tokens, how users and patients map, what they get. */
export interface EhrCaseStoreAccess {
  /**
   * OpenID Connect issuer of the EHR's id_tokens (Epic: its OAuth server, not the FHIR base). Default:
   * the `issuer` of the EHR's `.well-known/smart-configuration`.
   */
  readonly openIdIssuer?: string;
  /** Scopes of the dermbridge token; for a launch with a patient, `user/` becomes `patient/` on patient data. */
  readonly scopes: readonly string[];
  /** Identifier systems that name the same clinician at the EHR and at dermbridge (e.g. NPI). */
  readonly practitionerIdentifierSystems: readonly string[];
  /** Identifier systems that name the same patient (e.g. the MRN system). */
  readonly patientIdentifierSystems: readonly string[];
  /** Lifetime of the dermbridge token (short: the app exchanges again before it ends). */
  readonly tokenLifetimeSeconds: number;
}

export interface SmartConfig {
  /** Client id of the review app at the embedded server (a public client, PKCE). */
  readonly clientId: string;
  /** Other EHRs (Epic, Cerner, ...) the app accepts launches from. */
  readonly ehrs: readonly SmartEhr[];
  /**
   * Development EHR: `/ehr` launcher and `/oauth2/authorize` without a login screen (the picker
   * is the login). SECURITY: never enable where real users or data are; default only with demo data.
   */
  readonly devEhr: boolean;
}
