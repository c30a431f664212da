/**
 * What the browser app needs to launch at each EHR: public identifiers and URLs only. A
 * confidential registration's secret stays on the server (the app never sees one).
 */
import type { Config } from '../../src/config/config';

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

export interface BrowserEhr {
  readonly name: string;
  readonly iss: string;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly scope: string;
  /** The app exchanges this EHR's tokens at `caseStoreTokenEndpoint` for a case-store token. */
  readonly caseStoreExchange: boolean;
}

export interface BrowserAppConfig {
  readonly ehrs: readonly BrowserEhr[];
  /** The dermbridge FHIR base holding the cases (may differ from the launching EHR). */
  readonly caseStore: string;
  /** POST here (same origin as the app) to exchange an EHR's tokens for a case-store token. */
  readonly caseStoreTokenEndpoint: string;
  /** The EHR used for a standalone launch (the first, normally the embedded server). */
  readonly standaloneIss?: string;
}

export function smartAppConfig(config: Config, fhirBaseUrl: string): BrowserAppConfig {
  const defaultRedirect = new URL('smart/index.html', config.baseUrl).href;
  const embedded: BrowserEhr[] = config.smart.devEhr
    ? [{ name: 'dermbridge (development EHR)', iss: fhirBaseUrl, clientId: config.smart.clientId, redirectUri: defaultRedirect, scope: REVIEW_APP_SCOPE, caseStoreExchange: false }]
    : [];
  const others = config.smart.ehrs.map(
    (e): BrowserEhr => ({ name: e.name, iss: e.issuer, clientId: e.clientId, redirectUri: e.redirectUri ?? defaultRedirect, scope: e.scope ?? REVIEW_APP_SCOPE, caseStoreExchange: e.caseStoreAccess !== undefined }),
  );
  const ehrs = [...embedded, ...others];
  return { ehrs, caseStore: fhirBaseUrl, caseStoreTokenEndpoint: new URL('smart/case-store-token', config.baseUrl).href, standaloneIss: ehrs[0]?.iss };
}
