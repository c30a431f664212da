/**
 * `GET /auth/me`: the session details MedplumClient fetches right after login (and on refresh) to
 * learn its profile, project and membership. Shape as Medplum's server answers it; the embedded
 * server has one implicit Project, and the profile is the token's subject, with no store lookup.
 * Medplum extension, not SMART; see `packages/server/src/auth/me.ts` in github.com/medplum/medplum.
 */
import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { AccessContext } from './access-context';
import type { ClientRegistry } from './client-registry';
import { PROJECT, PROJECT_REFERENCE } from './project';

export function createMeHandler(clients: ClientRegistry): RequestHandler {
  return (_req, res) => {
    // bearer-auth runs first on this route, so `access` is always set here.
    res.json(sessionDetails(res.locals.access as AccessContext, clients));
  };
}

export function sessionDetails(access: AccessContext, clients: ClientRegistry): Record<string, unknown> {
  const clientRef = `ClientApplication/${access.clientId}`;
  const [resourceType, id] = access.subject.split('/');
  const profile =
    resourceType === 'ClientApplication'
      ? { resourceType, id, name: clients.findClient(access.clientId)?.name ?? access.clientId }
      : { resourceType, id };
  return {
    project: PROJECT,
    membership: {
      resourceType: 'ProjectMembership',
      // Stable per principal and a valid FHIR id whatever characters the client id has.
      id: createHash('sha256').update(`${access.clientId} ${access.subject}`).digest('hex').slice(0, 32),
      project: PROJECT_REFERENCE,
      user: { reference: clientRef },
      profile: { reference: access.subject },
    },
    profile,
    config: { resourceType: 'UserConfiguration' },
  };
}
