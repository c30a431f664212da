import type { MedplumClient } from '@medplum/core';
import type { Media, QuestionnaireResponse, Reference, Resource, ServiceRequest, Task } from '@medplum/fhirtypes';

/** The pieces of one e-consult case the bots read. */
export interface CaseContext {
  readonly serviceRequest: ServiceRequest & { id: string };
  readonly responses: (QuestionnaireResponse & { id: string })[];
  readonly media: (Media & { id: string })[];
  readonly task: (Task & { id: string }) | undefined;
}

export const CASE_TYPE_SYSTEM = 'https://dermbridge.example.org/fhir/CodeSystem/derm-case-type';

export function isEconsult(sr: ServiceRequest): boolean {
  return (sr.code?.coding ?? []).some((c) => c.system === CASE_TYPE_SYSTEM && c.code === 'derm-econsult');
}

function refTarget(ref: Reference | undefined, type: string): string | undefined {
  const value = ref?.reference ?? '';
  const [t, id] = value.split('/').slice(-2);
  return t === type && id ? id : undefined;
}

/**
 * The e-consult ServiceRequests a changed resource belongs to: the ServiceRequest itself; a
 * QuestionnaireResponse through its basedOn or the case's supportingInfo; a Media or Task through
 * basedOn / focus.
 */
export async function casesFor(medplum: MedplumClient, input: Resource): Promise<(ServiceRequest & { id: string })[]> {
  const ids = new Set<string>();
  switch (input.resourceType) {
    case 'ServiceRequest':
      if (isEconsult(input) && input.id) {
        ids.add(input.id);
      }
      break;
    case 'Media':
      (input.basedOn ?? []).forEach((r) => refTarget(r, 'ServiceRequest') && ids.add(refTarget(r, 'ServiceRequest') as string));
      break;
    case 'Task':
      if (refTarget(input.focus, 'ServiceRequest')) {
        ids.add(refTarget(input.focus, 'ServiceRequest') as string);
      }
      break;
    case 'QuestionnaireResponse': {
      (input.basedOn ?? []).forEach((r) => refTarget(r, 'ServiceRequest') && ids.add(refTarget(r, 'ServiceRequest') as string));
      if (input.subject?.reference) {
        const candidates = await medplum.searchResources('ServiceRequest', { subject: input.subject.reference, _count: '100' });
        for (const sr of candidates) {
          if ((sr.supportingInfo ?? []).some((r) => refTarget(r, 'QuestionnaireResponse') === input.id)) {
            ids.add(sr.id as string);
          }
        }
      }
      break;
    }
    default:
      break;
  }
  const cases: (ServiceRequest & { id: string })[] = [];
  for (const id of ids) {
    const sr = (await medplum.readResource('ServiceRequest', id)) as ServiceRequest & { id: string };
    if (isEconsult(sr)) {
      cases.push(sr);
    }
  }
  return cases;
}

export async function loadCase(medplum: MedplumClient, serviceRequest: ServiceRequest & { id: string }): Promise<CaseContext> {
  const responseIds = (serviceRequest.supportingInfo ?? []).map((r) => refTarget(r, 'QuestionnaireResponse')).filter((id): id is string => !!id);
  const responses: (QuestionnaireResponse & { id: string })[] = [];
  for (const id of responseIds) {
    responses.push((await medplum.readResource('QuestionnaireResponse', id)) as QuestionnaireResponse & { id: string });
  }
  const srRef = `ServiceRequest/${serviceRequest.id}`;
  const media = (await medplum.searchResources('Media', { 'based-on': srRef, _count: '200' })) as (Media & { id: string })[];
  const task = (await medplum.searchOne('Task', { focus: srRef })) as (Task & { id: string }) | undefined;
  return { serviceRequest, responses, media: media.filter((m) => m.status !== 'entered-in-error'), task };
}
