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
  /** pino log level. */
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

export type StoreTarget =
  | { readonly kind: 'embedded' }
  | { readonly kind: 'medplum'; readonly baseUrl: string; readonly clientId: string; readonly clientSecret: string };
