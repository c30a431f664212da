/**
 * What the browser app needs to launch at each EHR and reach the case store: public identifiers
 * and URLs only. A confidential registration's secret stays on the server (the app never sees one).
 */
import type { Config, SmartEhr } from '../../src/config/config';

/**
 * SMART v2 scopes the review app asks for: the queue and case resources it reads and writes, the
 * chart context it shows, and a refresh token so a long review outlives the access token.
 */
export const REVIEW_APP_SCOPE = [
  'openid fhirUser launch/patient offline_access',
  'user/Patient.rs user/Practitioner.rs user/Task.rus user/ServiceRequest.rs user/Questionnaire.rs user/ValueSet.rs',
  'user/QuestionnaireResponse.crus user/Media.rs user/Binary.r user/RiskAssessment.rs user/Communication.crs',
  'user/Condition.rs user/MedicationStatement.rs user/MedicationRequest.rs user/AllergyIntolerance.rs user/DiagnosticReport.rs',
].join(' ');

/** The case store as the browser reaches it: the embedded server, or Medplum's public URL. */
export interface CaseStoreEndpoints {
  /** FHIR base holding the cases, without trailing slash. */
  readonly fhirBaseUrl: string;
  /** Its OAuth token endpoint (the Medplum-style token exchange is POSTed there). */
  readonly tokenEndpoint: string;
}

/** Medplum as the browser reaches it: its public base URL (`MEDPLUM_ISSUER`, default `MEDPLUM_BASE_URL`). */
export function caseStoreAtMedplum(publicBaseUrl: string): CaseStoreEndpoints {
  const base = publicBaseUrl.endsWith('/') ? publicBaseUrl : `${publicBaseUrl}/`;
  return { fhirBaseUrl: new URL('fhir/R4', base).href, tokenEndpoint: new URL('oauth2/token', base).href };
}

/** How the app exchanges an EHR's access token at the case store (RFC 8693, Medplum's grant). */
export interface BrowserTokenExchange {
  readonly tokenEndpoint: string;
  /** The case store's client for this EHR (Medplum: the ClientApplication with the identity provider). */
  readonly clientId: string;
  /** Scopes to ask for at the case store. */
  readonly scope: string;
}

export interface BrowserEhr {
  readonly name: string;
  readonly iss: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scope: string;
  /** The app exchanges this EHR's id_token and access token at `caseStoreTokenEndpoint` (dermbridge's own exchange). */
  readonly caseStoreExchange: boolean;
  /** The app exchanges this EHR's access token at the case store's token endpoint (preferred when both are set). */
  readonly tokenExchange?: BrowserTokenExchange;
}

export interface BrowserAppConfig {
  readonly ehrs: readonly BrowserEhr[];
  /** The FHIR base holding the cases (may differ from the launching EHR). */
  readonly caseStore: string;
  /** POST here (same origin as the app) to exchange an EHR's tokens for a case-store token (embedded store only). */
  readonly caseStoreTokenEndpoint: string;
  /** The EHR used for a standalone launch (the first, normally the embedded server). */
  readonly standaloneIss?: string;
}

export function smartAppConfig(config: Config, caseStore: CaseStoreEndpoints): BrowserAppConfig {
  const defaultRedirect = new URL('smart/index.html', config.baseUrl).href;
  const embedded: BrowserEhr[] = config.smart.devEhr
    ? [{ name: 'dermbridge (development EHR)', iss: caseStore.fhirBaseUrl, clientId: config.smart.clientId, redirectUri: defaultRedirect, scope: REVIEW_APP_SCOPE, caseStoreExchange: false }]
    : [];
  const others = config.smart.ehrs.map(
    (e): BrowserEhr => ({
      name: e.name,
      iss: e.issuer,
      clientId: e.clientId,
      redirectUri: e.redirectUri ?? defaultRedirect,
      scope: e.scope ?? REVIEW_APP_SCOPE,
      caseStoreExchange: e.caseStoreAccess !== undefined && config.store.kind === 'embedded',
      ...(e.tokenExchange ? { tokenExchange: browserTokenExchange(e, caseStore) } : {}),
    }),
  );
  const ehrs = [...embedded, ...others];
  return { ehrs, caseStore: caseStore.fhirBaseUrl, caseStoreTokenEndpoint: new URL('smart/case-store-token', config.baseUrl).href, standaloneIss: ehrs[0]?.iss };
}

function browserTokenExchange(ehr: SmartEhr, caseStore: CaseStoreEndpoints): BrowserTokenExchange {
  const exchange = ehr.tokenExchange as NonNullable<SmartEhr['tokenExchange']>;
  // The case-store part of what the app asks the EHR for: resource scopes, not openid/launch.
  const scope = exchange.requestScope ?? (ehr.scope ?? REVIEW_APP_SCOPE).split(' ').filter((s) => s.startsWith('user/')).join(' ');
  return { tokenEndpoint: caseStore.tokenEndpoint, clientId: exchange.clientId, scope };
}
