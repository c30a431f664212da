import assert from 'node:assert/strict';
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { CANONICAL_BASE, CODE_SYSTEM_URLS, PROFILE_URLS, QUESTIONNAIRE_URLS } from '../../src/cases/canonical-urls';
import { loadBaseDefinitions } from '../../src/fhir/definitions';
import { readProfileFiles } from './profile-files';

function baseIssues(resource: Resource): string[] {
  try {
    return validateResource(resource)
      .filter((i) => i.severity === 'error')
      .map((i) => `${i.expression?.join(',')}: ${i.details?.text}`);
  } catch (err) {
    if (err instanceof OperationOutcomeError) {
      return err.outcome.issue.filter((i) => i.severity === 'error').map((i) => `${i.expression?.join(',')}: ${i.details?.text}`);
    }
    throw err;
  }
}

describe('fhir-profiles/ (every JSON file)', () => {
  const files = readProfileFiles();

  before(() => loadBaseDefinitions());

  it('holds the artefacts of every kind issue 3 asks for', () => {
    const folders = new Set(files.map((f) => f.name.split('/')[0]));
    for (const folder of ['questionnaires', 'structure-definitions', 'value-sets', 'code-systems', 'examples']) {
      assert.ok(folders.has(folder), `fhir-profiles/${folder}/ has no JSON`);
    }
  });

  for (const file of files) {
    it(`${file.name} is a valid FHIR R4 ${file.resource.resourceType}`, () => {
      assert.deepEqual(baseIssues(file.resource), []);
    });
  }

  it('gives every conformance resource a canonical URL under our base that ends with its id', () => {
    for (const { name, resource } of files.filter((f) => !f.name.startsWith('examples/'))) {
      const canonical = resource as Resource & { url?: string; version?: string; status?: string };
      assert.equal(canonical.url, `${CANONICAL_BASE}/${resource.resourceType}/${resource.id}`, name);
      assert.ok(canonical.version, `${name} has no version`);
      assert.equal(canonical.status, 'active', name);
    }
  });

  it('defines every canonical URL that src/cases refers to', () => {
    const urls = new Set(files.map((f) => (f.resource as { url?: string }).url));
    for (const url of [...Object.values(PROFILE_URLS), ...Object.values(QUESTIONNAIRE_URLS), ...Object.values(CODE_SYSTEM_URLS)]) {
      assert.ok(urls.has(url), `${url} is not defined in fhir-profiles/`);
    }
  });

  it('uses no canonical URL twice for the same resource type', () => {
    const seen = new Map<string, string>();
    for (const { name, resource } of files) {
      const url = (resource as { url?: string }).url;
      if (!url) continue;
      const key = `${resource.resourceType} ${url}`;
      assert.ok(!seen.has(key), `${name} repeats ${key} from ${seen.get(key)}`);
      seen.set(key, name);
    }
  });
});
