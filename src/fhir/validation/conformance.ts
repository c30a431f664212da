import type { Bundle, CodeSystem, Resource, StructureDefinition, ValueSet } from '@medplum/fhirtypes';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The conformance resources found under the profiles directory, grouped by what the server does with them. */
export interface ConformanceResources {
  readonly structureDefinitions: readonly StructureDefinition[];
  readonly valueSets: readonly ValueSet[];
  readonly codeSystems: readonly CodeSystem[];
  /** Everything else (Questionnaires, ConceptMaps, ...): the server seeds these into the store. */
  readonly others: readonly Resource[];
}

/** A file under the profiles directory that cannot be used; the message names the file. */
export class ConformanceLoadError extends Error {
  override readonly name = 'ConformanceLoadError';
}

/** Folder names whose files are examples (test fixtures), not definitions. */
const SKIPPED_FOLDERS = new Set(['examples', 'node_modules']);

/**
 * Reads every `*.json` file below `dir` (recursively, skipping `examples/` folders and dot files).
 * A file holds one resource or a Bundle of them. Files are read in sorted order so that the
 * result, and so any "duplicate URL" error, does not depend on the file system.
 */
export function loadConformanceResources(dir: string): ConformanceResources {
  const structureDefinitions: StructureDefinition[] = [];
  const valueSets: ValueSet[] = [];
  const codeSystems: CodeSystem[] = [];
  const others: Resource[] = [];
  const seen = new Map<string, string>();
  for (const file of listJsonFiles(dir)) {
    const where = relative(dir, file);
    for (const resource of readResources(file, where)) {
      const canonical = (resource as { url?: string }).url;
      if (canonical) {
        const key = `${resource.resourceType} ${canonical}`;
        const previous = seen.get(key);
        if (previous) {
          throw new ConformanceLoadError(`${where}: ${key} is also defined in ${previous}`);
        }
        seen.set(key, where);
      }
      switch (resource.resourceType) {
        case 'StructureDefinition':
          structureDefinitions.push(resource);
          break;
        case 'ValueSet':
          valueSets.push(resource);
          break;
        case 'CodeSystem':
          codeSystems.push(resource);
          break;
        default:
          others.push(resource);
      }
    }
  }
  return { structureDefinitions, valueSets, codeSystems, others };
}

function listJsonFiles(dir: string): string[] {
  const files: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) {
      continue;
    }
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !SKIPPED_FOLDERS.has(entry.name)) {
      files.push(...listJsonFiles(path));
    } else if (entry.isFile() && entry.name.endsWith('.json')) {
      files.push(path);
    }
  }
  return files;
}

function readResources(file: string, where: string): Resource[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConformanceLoadError(`${where}: not valid JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isResource(json)) {
    throw new ConformanceLoadError(`${where}: not a FHIR resource (no resourceType)`);
  }
  if (json.resourceType !== 'Bundle') {
    return [json];
  }
  return ((json as Bundle).entry ?? []).map((entry, i) => {
    if (!isResource(entry.resource)) {
      throw new ConformanceLoadError(`${where}: Bundle.entry[${i}] has no resource`);
    }
    return entry.resource;
  });
}

function isResource(value: unknown): value is Resource {
  return typeof value === 'object' && value !== null && typeof (value as Resource).resourceType === 'string';
}
