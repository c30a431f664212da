/**
 * The one implicit Medplum Project of the embedded server. MedplumClient expects every login to
 * belong to a Project (token response `project`, `/auth/me` `project` and `membership.project`).
 */
export const PROJECT = { resourceType: 'Project', id: 'dermbridge', name: 'dermbridge' } as const;

export const PROJECT_REFERENCE = { reference: `Project/${PROJECT.id}`, display: PROJECT.name } as const;
