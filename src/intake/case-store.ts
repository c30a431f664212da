import { MedplumClient } from '@medplum/core';
import type { Response } from 'express';
import type { AccessContext } from '../auth/access-context';

/**
 * A MedplumClient acting as the caller: the caller's own bearer token, so the FHIR server (the
 * embedded one or a real Medplum) enforces their scopes and patient compartment on every read and
 * write the intake makes. Built per request; no cache, so nothing of one caller reaches another.
 */
export function callerClient(storeBaseUrl: string, accessToken: string, fetchImpl: typeof fetch = globalThis.fetch): MedplumClient {
  const medplum = new MedplumClient({ baseUrl: storeBaseUrl, fetch: fetchImpl, cacheTime: 0 });
  medplum.setAccessToken(accessToken);
  return medplum;
}

export interface Caller {
  readonly access: AccessContext;
  readonly medplum: MedplumClient;
}

export function callerOf(res: Response, storeBaseUrl: string, authorization: string | undefined, fetchImpl?: typeof fetch): Caller {
  const access = res.locals.access;
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!access || !token) {
    throw new Error('intake route mounted without the bearer middleware');
  }
  return { access, medplum: callerClient(storeBaseUrl, token, fetchImpl) };
}
