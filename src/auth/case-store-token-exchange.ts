/**
 * `POST /smart/case-store-token`: a review app launched by another EHR (Epic, Cerner) exchanges
 * what that launch gave it for a short-lived dermbridge token to the case store. Shaped as an
 * OAuth 2.0 Token Exchange (RFC 8693 §2.1: `grant_type`, `subject_token` = the EHR's OpenID
 * Connect id_token, `subject_token_type`; response §2.2.1, errors RFC 6749 §5.2), with three
 * extension parameters: `ehr` (the launching EHR's FHIR base, as in the launch's `iss`),
 * `ehr_access_token` (the EHR's SMART access token) and `patient` (the EHR's launch patient id).
 * https://www.rfc-editor.org/rfc/rfc8693#section-2.1
 *
 * Nothing the browser says is believed: the id_token must verify against the EHR's published keys
 * (`iss`, `aud` = our client id there, `exp`); the access token must read the clinician's
 * `fhirUser` resource, and the launch patient, at the EHR; both are matched to dermbridge by
 * business identifier. The token carries the scopes configured for that EHR, narrowed to the
 * patient's compartment when the launch has a patient. Every refusal is audited.
 */
import type { RequestHandler } from 'express';
import type { Logger } from 'pino';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Patient, Practitioner } from '@medplum/fhirtypes';
import type { AuditSink } from '../audit/audit-entry';
import type { EhrCaseStoreAccess, SmartEhr } from '../config/config';
import { isPatientDataType } from '../fhir/store/patient-compartment';
import type { AccessTokenGrant, IssuedAccessToken } from './access-token';
import { EhrReadRefusedError, readFromEhr, relativeReference } from './ehr-fhir-read';
import { EhrUnreachableError, IdTokenRejectedError, type EhrIdTokenVerifier } from './ehr-id-token';
import { findByIdentifier } from './ehr-identity-mapping';
import { OAuthError, sendOAuthError } from './oauth-error';
import { grantScopes } from './scope-grant';
import { parseResourceScope } from './smart-scopes';
import { recordRefusedExchange } from './token-exchange-refusal';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

export interface CaseStoreTokenExchangeDeps {
  readonly ehrs: readonly SmartEhr[];
  readonly verifyIdToken: EhrIdTokenVerifier;
  /** Unscoped: only to find the dermbridge Practitioner and Patient by identifier. */
  readonly repo: FhirRepository;
  readonly issueAccessToken: (grant: AccessTokenGrant) => Promise<IssuedAccessToken>;
  /** The review app's client id at dermbridge (`client_id` of the issued tokens). */
  readonly clientId: string;
  /** Our FHIR base: the only acceptable `resource`/`audience`. */
  readonly fhirBaseUrl: string;
  readonly audit?: AuditSink;
  readonly logger?: Pick<Logger, 'info' | 'warn'>;
  readonly fetchImpl?: typeof fetch;
}

/** RFC 8693 §2.2.1, plus SMART's `patient` and `fhirUser` (dermbridge ids) as launch context. */
export interface CaseStoreTokenResponse {
  readonly access_token: string;
  readonly issued_token_type: typeof ACCESS_TOKEN_TYPE;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly scope: string;
  readonly fhirUser: string;
  readonly patient?: string;
}

type Params = Readonly<Record<string, string | undefined>>;
type ConfiguredEhr = SmartEhr & { readonly caseStoreAccess: EhrCaseStoreAccess };

/** What is known about the caller when a request is refused, for the audit trail. */
interface Attempt {
  ehr?: ConfiguredEhr;
  ehrUser?: string;
  patients: string[];
}

export function createCaseStoreTokenExchange(deps: CaseStoreTokenExchangeDeps): RequestHandler {
  return async (req, res) => {
    const attempt: Attempt = { patients: [] };
    res.setHeader('Cache-Control', 'no-store');
    try {
      const response = await exchange(deps, formParams(req.body), attempt);
      res.json(response);
    } catch (err) {
      const refusal = err instanceof EhrUnreachableError ? new OAuthError('temporarily_unavailable', err.message) : err;
      if (!(refusal instanceof OAuthError)) {
        throw err;
      }
      await recordRefusedExchange(deps.audit, deps.logger, {
        refusal,
        ehrName: attempt.ehr?.name,
        agent: attempt.ehrUser ?? 'Device/unknown',
        clientId: deps.clientId,
        patients: attempt.patients,
        sourceAddress: req.ip,
      });
      // An EHR outage is not the caller's fault: 503, so the app retries rather than relaunching.
      if (refusal.error === 'temporarily_unavailable') {
        res.status(503).json({ error: refusal.error, error_description: refusal.description });
        return;
      }
      sendOAuthError(res, refusal);
    }
  };
}

async function exchange(deps: CaseStoreTokenExchangeDeps, params: Params, attempt: Attempt): Promise<CaseStoreTokenResponse> {
  if (params.grant_type !== TOKEN_EXCHANGE_GRANT) {
    throw new OAuthError('unsupported_grant_type', `grant_type must be ${TOKEN_EXCHANGE_GRANT}`);
  }
  if (params.subject_token_type !== ID_TOKEN_TYPE || !params.subject_token) {
    throw new OAuthError('invalid_request', `subject_token must be the EHR's id_token (subject_token_type ${ID_TOKEN_TYPE})`);
  }
  if (!params.ehr_access_token || !params.ehr) {
    throw new OAuthError('invalid_request', 'ehr (the launch iss) and ehr_access_token are required');
  }
  for (const target of [params.resource, params.audience]) {
    if (target !== undefined && strip(target) !== strip(deps.fhirBaseUrl)) {
      throw new OAuthError('invalid_request', `This endpoint issues tokens for ${deps.fhirBaseUrl} only`);
    }
  }
  const ehr = deps.ehrs.find((e): e is ConfiguredEhr => strip(e.issuer) === strip(params.ehr as string) && e.caseStoreAccess !== undefined);
  if (!ehr) {
    throw new OAuthError('invalid_grant', `The EHR ${params.ehr} is not configured for case-store access`);
  }
  attempt.ehr = ehr;
  const access = ehr.caseStoreAccess;

  const identity = await checked(() => deps.verifyIdToken(ehr, params.subject_token as string, params.ehr_access_token as string));
  attempt.ehrUser = identity.fhirUser;
  const practitionerRef = relativeReference(ehr.issuer, identity.fhirUser, ['Practitioner']);
  if (!practitionerRef) {
    throw new OAuthError('invalid_grant', `fhirUser ${identity.fhirUser} is not a Practitioner of ${ehr.name}; only clinicians get case-store access`);
  }
  attempt.ehrUser = `${strip(ehr.issuer)}/${practitionerRef}`;
  const ehrPractitioner = await checked(() => readFromEhr<Practitioner>(ehr.issuer, practitionerRef, params.ehr_access_token as string, deps.fetchImpl));
  const practitioner = await findByIdentifier(deps.repo, 'Practitioner', ehrPractitioner.identifier, access.practitionerIdentifierSystems);
  if (!practitioner.ok) {
    throw new OAuthError('invalid_grant', `${ehr.name} user ${practitionerRef} is not a dermbridge clinician: ${practitioner.reason}`);
  }
  const fhirUser = `Practitioner/${practitioner.id}`;
  attempt.ehrUser = fhirUser;

  const patientId = params.patient === undefined || params.patient === '' ? undefined : await mapPatient(deps, ehr, params, attempt);
  const allowed = patientId === undefined ? [...access.scopes] : patientBound(access.scopes);
  const scopes = grantScopes((params.scope ?? '').split(' ').filter(Boolean), allowed);
  if (scopes.length === 0) {
    throw new OAuthError('invalid_scope', `None of the requested scopes is allowed for users of ${ehr.name}`);
  }
  const issued = await deps.issueAccessToken({ clientId: deps.clientId, scopes, fhirUser, patientId, lifetimeSeconds: access.tokenLifetimeSeconds });
  deps.logger?.info({ ehr: ehr.name, fhirUser, patientId, tokenId: issued.tokenId }, 'case-store token issued by exchange');
  await deps.audit?.record({
    action: 'E',
    interaction: 'token-exchange',
    outcome: '0',
    outcomeDesc: `${ehr.name} ${practitionerRef} as ${fhirUser}`,
    agent: fhirUser,
    clientId: deps.clientId,
    tokenId: issued.tokenId,
    entities: [fhirUser],
    patients: attempt.patients,
  });
  return {
    access_token: issued.accessToken,
    issued_token_type: ACCESS_TOKEN_TYPE,
    token_type: 'Bearer',
    expires_in: issued.expiresIn,
    scope: issued.scope,
    fhirUser,
    ...(patientId === undefined ? {} : { patient: patientId }),
  };
}

/** The launch patient, read at the EHR with its token (the EHR decides this user may see them), matched by identifier. */
async function mapPatient(deps: CaseStoreTokenExchangeDeps, ehr: ConfiguredEhr, params: Params, attempt: Attempt): Promise<string> {
  const reference = relativeReference(ehr.issuer, `Patient/${params.patient}`, ['Patient']);
  if (!reference) {
    throw new OAuthError('invalid_request', 'patient must be the EHR launch context patient id');
  }
  const ehrPatient = await checked(() => readFromEhr<Patient>(ehr.issuer, reference, params.ehr_access_token as string, deps.fetchImpl));
  const match = await findByIdentifier(deps.repo, 'Patient', ehrPatient.identifier, ehr.caseStoreAccess.patientIdentifierSystems);
  if (!match.ok) {
    throw new OAuthError('invalid_grant', `${ehr.name} patient ${reference} has no dermbridge record: ${match.reason}`);
  }
  attempt.patients = [`Patient/${match.id}`];
  return match.id;
}

/**
 * A launch with a patient gets that patient's compartment only: `user/` scopes on patient data (or
 * `*`) become `patient/`; scopes on shared definitions (Questionnaire, ValueSet, Practitioner) stay.
 */
export function patientBound(scopes: readonly string[]): string[] {
  return scopes.map((scope) => {
    const parsed = parseResourceScope(scope);
    const onPatientData = parsed?.context === 'user' && (parsed.resourceType === '*' || isPatientDataType(parsed.resourceType));
    return onPatientData ? scope.replace(/^user\//, 'patient/') : scope;
  });
}

/** The EHR's verdicts as OAuth errors; its outages pass through (503). */
async function checked<T>(step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    if (err instanceof IdTokenRejectedError || err instanceof EhrReadRefusedError) {
      throw new OAuthError('invalid_grant', err.message);
    }
    throw err;
  }
}

/** The urlencoded body; a repeated parameter (RFC 6749 §3.2) is refused. */
function formParams(body: unknown): Params {
  if (typeof body !== 'object' || body === null) {
    throw new OAuthError('invalid_request', 'The request must be application/x-www-form-urlencoded');
  }
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      throw new OAuthError('invalid_request', `Parameter ${name} must appear once`);
    }
    params[name] = value;
  }
  return params;
}

function strip(url: string): string {
  return url.replace(/\/+$/, '');
}
