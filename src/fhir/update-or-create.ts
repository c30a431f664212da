import { allOk, badRequest, created } from '@medplum/core';
import type { FhirRequest, FhirResponse, FhirRouteHandler, FhirRouter } from '@medplum/fhir-router';
import type { FhirRepository } from '@medplum/fhir-router';
import type { Resource } from '@medplum/fhirtypes';
import { createdByUpdate } from './store/sqlite-repository';

/**
 * `PUT [type]/[id]`: FHIR answers 201 when the update created the resource and 200 when it
 * replaced one (https://hl7.org/fhir/R4/http.html#upsert); Medplum's router always answers 200.
 */
const updateOrCreate: FhirRouteHandler = async (req: FhirRequest, repo: FhirRepository): Promise<FhirResponse> => {
  const { resourceType, id } = req.params;
  const resource = req.body as Resource;
  if (resource?.resourceType !== resourceType) {
    return [badRequest(`Incorrect resource type: expected ${resourceType}, but found ${resource?.resourceType || '<EMPTY>'}`)];
  }
  if (resource.id !== id) {
    return [badRequest(`Resource id "${resource.id ?? ''}" does not match the URL id "${id}"`, `${resourceType}.id`)];
  }
  const ifMatch = /"([^"]+)"/.exec(String(req.headers?.['if-match'] ?? ''))?.[1];
  const result = await repo.updateResource(resource, { ifMatch });
  return [createdByUpdate.has(result) ? created : allOk, result];
};

/** Swaps the router's own `PUT :resourceType/:id` handler for `updateOrCreate`. */
export function installUpdateOrCreate(router: FhirRouter): FhirRouter {
  const route = router.router.routes.find((r) => r.method === 'PUT' && r.path.map((p) => (p.param ? ':' : p.value)).join('/') === ':/:');
  if (!route) {
    throw new Error('FhirRouter has no PUT :resourceType/:id route to replace');
  }
  route.handler = updateOrCreate;
  return router;
}
