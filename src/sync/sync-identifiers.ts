/**
 * Identifier systems sync writes, so that every upsert is keyed by an identifier (conditional
 * create/update) and every EHR resource maps to exactly one store resource and back.
 */
import { CANONICAL_BASE } from '../cases/canonical-urls';

const SID_BASE = `${CANONICAL_BASE}/sid/sync`;

/** The EHR's logical id of a resource pulled from it, e.g. system `.../ehr/epic-prod/Condition`, value the EHR id. */
export function sourceIdSystem(ehrName: string, resourceType: string): string {
  return `${SID_BASE}/ehr/${encodeURIComponent(ehrName)}/${resourceType}`;
}

/** The store's id of a result pushed to an EHR (`DiagnosticReport/<id>`): the EHR-side conditional-create key. */
export const RESULT_ID_SYSTEM = `${SID_BASE}/result`;

/** Checkpoints and push records (Basic resources) are found by these. */
export const CHECKPOINT_ID_SYSTEM = `${SID_BASE}/checkpoint`;
export const PUSH_RECORD_ID_SYSTEM = `${SID_BASE}/push-record`;
export const SYNC_CODE_SYSTEM = `${CANONICAL_BASE}/CodeSystem/sync-record-kind`;
export const SYNC_EXTENSION_BASE = `${CANONICAL_BASE}/StructureDefinition/sync`;

/** A store resource referenced from a pushed result but not present on the EHR: a logical reference. */
export function storeIdSystem(resourceType: string): string {
  return `${SID_BASE}/dermbridge/${resourceType}`;
}
