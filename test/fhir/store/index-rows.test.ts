/**
 * What a write puts in the index tables: no rows for a parameter whose search reads the resource
 * row itself (`_id`), and searches on it still answer.
 */
import type { Patient } from '@medplum/fhirtypes';
import { parseSearchRequest } from '@medplum/core';
import assert from 'node:assert/strict';
import { SqliteRepository } from '../../../src/fhir/store/sqlite-repository';
import { SqliteStore } from '../../../src/fhir/store/sqlite-store';

describe('index rows', () => {
  let store: SqliteStore;
  let repo: SqliteRepository;

  before(() => {
    store = new SqliteStore({ path: ':memory:', baseUrl: 'http://127.0.0.1/' });
    repo = new SqliteRepository(store);
  });
  after(async () => {
    await store.close();
  });

  it('writes none for _id, whose searches read resource.id, and still finds, excludes and sorts by it', async () => {
    const [a, b] = await Promise.all(
      ['Ada', 'Bea'].map((given) => repo.createResource<Patient>({ resourceType: 'Patient', name: [{ given: [given], family: 'Rows' }], gender: 'female' }))
    );
    const rows = (pid: number | undefined): number =>
      (store.reader.prepare('SELECT count(*) AS n FROM ix_token WHERE pid = ?').get(pid ?? -1) as { n: number }).n;
    assert.equal(rows(store.params.lookup('Patient', '_id')), 0);
    assert.ok(rows(store.params.lookup('Patient', 'gender')) >= 2, 'other tokens are indexed as before');
    const ids = async (query: string): Promise<string[]> => (await repo.searchResources<Patient>(parseSearchRequest(query))).map((p) => p.id as string);
    assert.deepEqual(await ids(`Patient?_id=${a.id}`), [a.id]);
    assert.deepEqual(await ids(`Patient?family=Rows&_id:not=${a.id}`), [b.id]);
    assert.deepEqual(await ids('Patient?family=Rows&_sort=_id'), [a.id, b.id].sort());
  });
});
