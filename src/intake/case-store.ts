import { MedplumClient } from '@medplum/core';
import type { Response } from 'express';
import type { AccessContext } from '../auth/access-context';

/**
 * A MedplumClient acting as the caller: the caller's own bearer token, so the FHIR server (the
 * embedded one or a real Medplum) enforces their scopes and patient compartment on every read and
 * write the intake makes. Built per request; no cache, so nothing of one caller reaches another.
 */
export function callerClient(storeBaseUrl: string, accessToken: string, fetchImpl: typeof fetch = globalThis.fetch): MedplumClient {
  const medplum = new MedplumClient({ baseUrl: storeBaseUrl, fetch: bytesAsStream(fetchImpl), cacheTime: 0 });
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

/**
 * fetch copies a byte body before sending it (the Fetch standard's "extract a body"): for a case's
 * photos that is 12 MB more allocated in the server's heap per case, which is what pushes V8 into
 * its full collections. A stream over the same bytes is sent as it is. Made anew on every call, so
 * MedplumClient's retries still work.
 */
function bytesAsStream(fetchImpl: typeof fetch): typeof fetch {
  return (input, init) => {
    const body = init?.body;
    if (!(body instanceof Uint8Array) || body.byteLength < STREAM_ABOVE_BYTES) {
      return fetchImpl(input, init);
    }
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(body);
        controller.close();
      },
    });
    return fetchImpl(input, { ...init, body: stream, duplex: 'half' } as RequestInit);
  };
}

/** Small bodies are not worth a stream (and keep a Content-Length). */
const STREAM_ABOVE_BYTES = 64 * 1024;
