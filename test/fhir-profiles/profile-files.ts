import type { Questionnaire, Resource, ValueSet } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Test helpers that read fhir-profiles/ as plain files (the artefacts are the contract). */
export const PROFILES_DIR = join(__dirname, '..', '..', 'fhir-profiles');

export interface ProfileFile {
  /** Path relative to fhir-profiles/, e.g. `examples/derm-photo-media.example.json`. */
  readonly name: string;
  readonly resource: Resource;
}

export function listJsonFiles(dir = PROFILES_DIR): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        return listJsonFiles(path);
      }
      return entry.name.endsWith('.json') ? [path] : [];
    });
}

export function readProfileFiles(subdir?: string): ProfileFile[] {
  const dir = subdir ? join(PROFILES_DIR, subdir) : PROFILES_DIR;
  return listJsonFiles(dir).map((path) => ({
    name: relative(PROFILES_DIR, path),
    resource: JSON.parse(readFileSync(path, 'utf8')) as Resource,
  }));
}

export function readQuestionnaire(id: string): Questionnaire {
  return JSON.parse(readFileSync(join(PROFILES_DIR, 'questionnaires', `${id}.json`), 'utf8')) as Questionnaire;
}

/** Our ValueSets by canonical URL, for choice answers bound by answerValueSet. */
export function ourValueSets(): Map<string, ValueSet> {
  const map = new Map<string, ValueSet>();
  for (const { resource } of readProfileFiles('value-sets')) {
    const valueSet = resource as ValueSet;
    if (valueSet.url) {
      map.set(valueSet.url, valueSet);
    }
  }
  return map;
}
