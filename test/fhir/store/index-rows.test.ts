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

  it('writes none for _lastUpdated, whose searches read resource.last_updated with the date comparisons', async () => {
    const first = await repo.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Stamp' }] });
    await new Promise((r) => setTimeout(r, 5));
    const second = await repo.createResource<Patient>({ resourceType: 'Patient', name: [{ family: 'Stamp' }] });
    const t1 = first.meta?.lastUpdated as string;
    const t2 = second.meta?.lastUpdated as string;
    assert.ok(t1 < t2);
    const dateRows = (store.reader.prepare('SELECT count(*) AS n FROM ix_date WHERE pid = ?').get(store.params.lookup('Patient', '_lastUpdated') ?? -1) as { n: number }).n;
    assert.equal(dateRows, 0);
    const ids = async (query: string): Promise<string[]> =>
      (await repo.searchResources<Patient>(parseSearchRequest(`Patient?family=Stamp&_sort=_lastUpdated&${query}`))).map((p) => p.id as string);
    const both = [first.id, second.id];
    assert.deepEqual(await ids(`_lastUpdated=gt${t1}`), [second.id]);
    assert.deepEqual(await ids(`_lastUpdated=ge${t1}`), both);
    assert.deepEqual(await ids(`_lastUpdated=lt${t2}`), [first.id]);
    assert.deepEqual(await ids(`_lastUpdated=le${t2}`), both);
    assert.deepEqual(await ids(`_lastUpdated=${t1.slice(0, 10)}`), both, 'a day matches both instants in it');
    assert.deepEqual(await ids(`_lastUpdated=ne${t1.slice(0, 4)}`), [], 'ne a year: neither');
    assert.deepEqual(await ids(`_lastUpdated=sa${t1.slice(0, 4)}`), []);
    assert.deepEqual(await ids(`_lastUpdated=eb3000-01-01`), both);
    assert.deepEqual(await ids('_lastUpdated:missing=false'), both);
    assert.deepEqual(await ids('_lastUpdated:missing=true'), []);
    // As a driving filter alone (no other parameter), over the whole type.
    const driven = (await repo.searchResources<Patient>(parseSearchRequest(`Patient?_lastUpdated=ge${t2}`))).map((p) => p.id);
    assert.ok(driven.includes(second.id) && !driven.includes(first.id));
  });

  it('refuses a composite index keyed on _lastUpdated or driven by _id, which have no rows to read', () => {
    for (const spec of [
      { resourceType: 'Task', param: 'identifier', sort: '-_lastUpdated' },
      { resourceType: 'Task', param: '_id', sort: 'due-date' },
    ]) {
      assert.throws(() => new SqliteStore({ path: ':memory:', baseUrl: 'http://127.0.0.1/', compositeIndexes: [spec] }), /no indexed search parameter/);
    }
  });
});
