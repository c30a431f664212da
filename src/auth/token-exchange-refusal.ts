import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit-entry';
import type { OAuthError } from './oauth-error';

/** What is known of a refused token-exchange caller when the refusal is recorded. */
export interface RefusedExchange {
  readonly refusal: OAuthError;
  /** The EHR the caller named, when it was a configured one. */
  readonly ehrName?: string;
  /** Who the caller is as far as the exchange got (an EHR user, or `Device/unknown`). */
  readonly agent: string;
  readonly clientId: string;
  /** Patients the refused request named (a launch patient), so their audit trail shows it. */
  readonly patients?: readonly string[];
  /** Appended to the outcome, e.g. the EHR user a mapping failed for. */
  readonly detail?: string;
  readonly sourceAddress?: string;
}

/**
 * Both token exchanges (the Medplum-style grant at /oauth2/token and the id_token exchange at
 * /smart/case-store-token) log and audit a refusal the same way: an attempt to get at patient
 * data with a foreign token is a security event whatever endpoint it came through. Outcome 8
 * when the EHR, not the caller, failed.
 */
export async function recordRefusedExchange(audit: AuditSink | undefined, logger: Pick<Logger, 'warn'> | undefined, refused: RefusedExchange): Promise<void> {
  const { refusal } = refused;
  logger?.warn({ ehr: refused.ehrName, error: refusal.error, reason: refusal.description }, 'token exchange refused');
  await audit?.record({
    action: 'E',
    interaction: 'token-exchange',
    outcome: refusal.error === 'temporarily_unavailable' || refusal.status >= 500 ? '8' : '4',
    outcomeDesc: `${refusal.error}: ${refusal.description}${refused.detail ?? ''}`,
    agent: refused.agent,
    clientId: refused.clientId,
    tokenId: '',
    entities: [],
    patients: [...(refused.patients ?? [])],
    sourceAddress: refused.sourceAddress,
  });
}
