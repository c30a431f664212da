import { getResourceTypes } from '@medplum/core';
import type { CapabilityStatement, CapabilityStatementRestResource } from '@medplum/fhirtypes';
import { indexedParams } from './store/index-values';

export interface CapabilityOptions {
  readonly baseUrl: string;
  readonly version: string;
  /** Profile canonical URLs the server validates against, by resource type. */
  readonly profiles: ReadonlyMap<string, readonly string[]>;
}

/** `Type:param` for each reference parameter of the type (what `_include` accepts; `*` is not supported). */
function includesOf(type: string): string[] {
  return indexedParams(type)
    .filter((p) => p.kind === 'reference')
    .map((p) => `${type}:${p.code}`);
}

let revIncludeIndex: Map<string, string[]> | undefined;

/** `Other:param` for every reference parameter of any type that can point at this type. */
function revIncludesOf(type: string): string[] {
  if (!revIncludeIndex) {
    revIncludeIndex = new Map();
    for (const source of getResourceTypes()) {
      for (const p of indexedParams(source)) {
        if (p.kind !== 'reference') {
          continue;
        }
        for (const target of p.param.target ?? []) {
          const list = revIncludeIndex.get(target) ?? [];
          list.push(`${source}:${p.code}`);
          revIncludeIndex.set(target, list);
        }
      }
    }
  }
  return revIncludeIndex.get(type) ?? [];
}

/** Types the FHIR API does not serve as ordinary resources (they are held elsewhere or are Medplum admin types). */
const NOT_SERVED = new Set(['AuditEvent']);

/**
 * What this server really does (http://hl7.org/fhir/R4/capabilitystatement.html): every
 * interaction listed is routed, every search parameter listed is indexed, every profile listed
 * is enforced on write. Parameters without an index (composite, special) are left out rather
 * than advertised and ignored.
 */
export function buildCapabilityStatement(options: CapabilityOptions): CapabilityStatement {
  const fhirBase = `${options.baseUrl}fhir/R4`;
  const resource: CapabilityStatementRestResource[] = getResourceTypes()
    .filter((type) => !NOT_SERVED.has(type))
    .map((type) => ({
      type,
      supportedProfile: options.profiles.get(type) ? [...(options.profiles.get(type) as string[])] : undefined,
      interaction: (['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'] as const).map((code) => ({ code })),
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'not-supported',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      searchInclude: includesOf(type),
      searchRevInclude: revIncludesOf(type),
      searchParam: indexedParams(type).map((p) => ({
        name: p.code,
        definition: p.param.url,
        type: p.param.type,
      })),
    }));
  resource.push({
    type: 'AuditEvent',
    interaction: [{ code: 'search-type' }],
    documentation: 'Read-only audit trail of every access to patient data; search by patient, agent and date.',
    searchParam: [
      { name: 'patient', type: 'reference' },
      { name: 'agent', type: 'reference' },
      { name: 'date', type: 'date', documentation: 'ge prefix only' },
      { name: '_count', type: 'number' },
    ],
  });
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    publisher: 'dermbridge',
    software: { name: 'dermbridge embedded FHIR server', version: options.version },
    implementation: { description: 'dermbridge embedded FHIR server (Medplum fhir-router on SQLite)', url: fhirBase },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security: {
          cors: false,
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
            },
          ],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [{ url: 'token', valueUri: `${options.baseUrl}oauth2/token` }],
            },
          ],
          description: 'OAuth2 client_credentials (client secret or private_key_jwt); SMART v2 scopes enforced on every interaction.',
        },
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }],
        operation: [{ name: 'graphql', definition: 'https://medplum.com/docs/graphql' }],
      },
    ],
  };
}
