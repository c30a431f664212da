/**
 * Composite search indexes (src/fhir/store/composite-index.ts): a search they serve must return
 * exactly what the general plan returns (same rows, same order, same paging and totals), for
 * repeated values, missing sort values, ties, both directions and offsets; existing stores get
 * them back-filled; and the review-queue query must walk the index rather than sort.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, Observation, Patient, Resource, Task } from '@medplum/fhirtypes';
import type { CompositeIndexSpec } from '../../../src/fhir/store/composite-index';
import { DEFAULT_COMPOSITE_INDEXES } from '../../../src/fhir/store/composite-index';
import { pageQuery } from '../../../src/fhir/store/resource-reader';
import { migrate } from '../../../src/fhir/store/schema';
import { SqliteRepository } from '../../../src/fhir/store/sqlite-repository';
import { SqliteStore } from '../../../src/fhir/store/sqlite-store';

const BASE = 'http://localhost:8103/';
const QUEUE = 'urn:test:queue';
const SPECS: readonly CompositeIndexSpec[] = [
  ...DEFAULT_COMPOSITE_INDEXES,
  { resourceType: 'Task', param: 'identifier', sort: 'due-date' },
  { resourceType: 'Observation', param: 'subject', sort: 'code,-date' },
  { resourceType: 'Observation', param: 'subject', sort: '-code,date' },
];
const STATUSES = ['requested', 'accepted', 'in-progress', 'on-hold', 'completed'] as const;
const PRIORITIES = [undefined, 'routine', 'urgent', 'asap', 'stat'] as const;

/** Deterministic pseudo-random numbers, so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
}

/** Tasks over 3 queues; some in two queues, some without priority or due date, many sharing one. */
function task(i: number, next: () => number): Task {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)];
  const identifier = [{ system: QUEUE, value: `q${i % 3}` }];
  if (i % 7 === 0) {
    identifier.push({ system: QUEUE, value: `q${(i + 1) % 3}` });
  }
  if (i % 11 === 0) {
    identifier.push({ system: QUEUE, value: `q${i % 3}` }); // the same queue twice
  }
  const due = i % 5 === 0 ? undefined : `2026-0${1 + Math.floor(next() * 3)}-1${Math.floor(next() * 3)}T00:00:00Z`;
  return {
    resourceType: 'Task',
    status: pick(STATUSES),
    intent: 'order',
    priority: pick(PRIORITIES),
    identifier,
    restriction: due ? { period: i % 13 === 0 ? { start: '2025-12-01T00:00:00Z', end: due } : { end: due } } : undefined,
  };
}

function observation(subject: string, i: number, next: () => number): Observation {
  const codes = ['a', 'b', 'c', 'd'];
  const coding = [{ system: 'urn:test:code', code: codes[Math.floor(next() * 4)] }];
  if (i % 3 === 0) {
    coding.push({ system: 'urn:test:code', code: codes[Math.floor(next() * 4)] }); // two codes: sorts by the lower
  }
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding },
    subject: { reference: subject },
    effectiveDateTime: i % 4 === 0 ? undefined : `2026-02-0${1 + Math.floor(next() * 5)}`,
  };
}

/** Writes the same data set, updates and deletes included, to a store. */
async function fill(repo: SqliteRepository): Promise<string[]> {
  const next = random(7);
  const patients: string[] = [];
  for (let p = 0; p < 3; p++) {
    patients.push((await repo.createResource<Patient>({ resourceType: 'Patient', id: `p${p}` }, { assignedId: true })).id);
  }
  const tasks: Task[] = [];
  for (let i = 0; i < 240; i++) {
    tasks.push(await repo.createResource({ ...task(i, next), id: `t${i}` }, { assignedId: true }));
  }
  for (let i = 0; i < 240; i += 9) {
    // A reindex: new priority, queue moved, due date dropped.
    await repo.updateResource<Task>({ ...tasks[i], priority: 'stat', identifier: [{ system: QUEUE, value: 'q2' }], restriction: undefined });
  }
  for (let i = 4; i < 240; i += 17) {
    await repo.deleteResource('Task', `t${i}`);
  }
  for (let i = 0; i < 90; i++) {
    await repo.createResource({ ...observation(`Patient/${patients[i % 3]}`, i, next), id: `o${i}` }, { assignedId: true });
  }
  return patients;
}

const QUEUE_FILTER = 'status=requested,accepted,in-progress&priority=urgent,asap,stat';

function queries(): string[] {
  const list: string[] = [];
  for (const q of ['q0', 'q1', 'q2', 'q9']) {
    const id = `identifier=${encodeURIComponent(`${QUEUE}|${q}`)}`;
    list.push(
      `Task?${id}&${QUEUE_FILTER}&_sort=-priority-order,due-date&_count=10`,
      `Task?${id}&${QUEUE_FILTER}&_sort=-priority-order,due-date&_count=10&_offset=10`,
      `Task?${id}&${QUEUE_FILTER}&_sort=-priority-order,due-date&_count=7&_offset=35&_total=accurate`,
      `Task?${id}&_sort=-priority-order,due-date&_count=500`,
      `Task?${id}&_sort=due-date&_count=15&_offset=40`,
      `Task?${id}&status:not=completed&_sort=due-date&_count=1000&_total=accurate`,
      `Task?${id}&_sort=due-date&_count=0&_total=accurate`
    );
  }
  for (let p = 0; p < 3; p++) {
    list.push(`Observation?subject=Patient/p${p}&_sort=code,-date&_count=8`, `Observation?subject=Patient/p${p}&_sort=code,-date&_count=100`);
    list.push(`Observation?subject=Patient/p${p}&code=urn:test:code|b&_sort=code,-date&_count=4&_offset=2&_total=accurate`);
    list.push(`Observation?subject=Patient/p${p}&_sort=-code,date&_count=9&_offset=3`, `Observation?subject=Patient/p${p}&_sort=-code,date&_count=100`);
  }
  return list;
}

function summary(bundle: Bundle): string {
  return JSON.stringify({ ids: bundle.entry?.map((e) => (e.resource as Resource).id), total: bundle.total, link: bundle.link });
}

describe('composite search indexes', () => {
  let general: SqliteStore;
  let composite: SqliteStore;

  before(async () => {
    general = new SqliteStore({ path: ':memory:', baseUrl: BASE, compositeIndexes: [] });
    composite = new SqliteStore({ path: ':memory:', baseUrl: BASE, compositeIndexes: SPECS });
    await fill(new SqliteRepository(general));
    await fill(new SqliteRepository(composite));
  });

  after(async () => {
    await general.close();
    await composite.close();
  });

  it('return the same pages as the general plan, in the same order', async () => {
    for (const query of queries()) {
      const request = parseSearchRequest(query);
      assert.ok(composite.composites.plan(request), `a composite index serves ${query}`);
      assert.equal(general.composites.plan(request), undefined);
      const expected = await new SqliteRepository(general).search(request);
      const actual = await new SqliteRepository(composite).search(request);
      assert.equal(summary(actual), summary(expected), query);
    }
  });

  it('leave searches they cannot serve in order to the general plan', () => {
    const plan = (q: string): unknown => composite.composites.plan(parseSearchRequest(q));
    assert.equal(plan(`Task?identifier=${QUEUE}|q1&_sort=priority-order,due-date`), undefined, 'other direction');
    assert.equal(plan(`Task?identifier=${QUEUE}|q1,${QUEUE}|q2&_sort=due-date`), undefined, 'several values');
    assert.equal(plan('Task?identifier=q1&_sort=due-date'), undefined, 'no system');
    assert.equal(plan(`Task?identifier:not=${QUEUE}|q1&_sort=due-date`), undefined, 'modifier');
    assert.equal(plan(`Task?identifier=${QUEUE}|q1`), undefined, 'no sort');
  });

  it('make the review-queue query walk its index in order instead of sorting', () => {
    const request = parseSearchRequest(`Task?identifier=${QUEUE}|q1&${QUEUE_FILTER}&_sort=-priority-order,due-date&_count=50`);
    const where = composite.sql.where('Task', request.filters ?? [], 'r');
    const { sql, args } = pageQuery(composite, request, where, 51, 0);
    const plan = (composite.reader.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail);
    assert.match(plan[0], /^SEARCH c USING (COVERING )?INDEX cx_\d+_walk \(a=\? AND b=\?\)$/, plan.join('\n'));
    assert.ok(!plan.some((step) => /TEMP B-TREE|SCAN/.test(step)), plan.join('\n'));
  });

  it('leave the general plan driven by the identifier lookup, with one seek per probe', () => {
    const request = parseSearchRequest(`Task?identifier=${QUEUE}|q1&${QUEUE_FILTER}&_sort=-priority-order,due-date&_count=50`);
    const where = general.sql.where('Task', request.filters ?? [], 'r');
    const { sql, args } = pageQuery(general, request, where, 51, 0);
    const plan = (general.reader.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail);
    assert.ok(plan.includes('SEARCH ix_token USING COVERING INDEX ix_token_lookup (pid=? AND value=? AND system=?)'), plan.join('\n'));
    assert.equal(plan.filter((step) => step === 'SEARCH x USING COVERING INDEX ix_token_sort (rid=? AND pid=?)').length, 2, plan.join('\n'));
    assert.ok(!plan.some((step) => /^SCAN/.test(step)), plan.join('\n'));
  });
});

describe('composite search indexes in an existing store', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dermbridge-composite-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('are back-filled on the first open that declares them, and dropped when no longer declared', async () => {
    const path = join(dir, 'store.sqlite');
    const before = new SqliteStore({ path, baseUrl: BASE, compositeIndexes: [] });
    await fill(new SqliteRepository(before));
    const expected = await Promise.all(queries().map((q) => new SqliteRepository(before).search(parseSearchRequest(q))));
    await before.close();

    const after = new SqliteStore({ path, baseUrl: BASE, compositeIndexes: SPECS });
    const actual = await Promise.all(queries().map((q) => new SqliteRepository(after).search(parseSearchRequest(q))));
    assert.deepEqual(actual.map(summary), expected.map(summary));
    await after.close();

    const dropped = new SqliteStore({ path, baseUrl: BASE, compositeIndexes: [] });
    const leftovers = dropped.writer.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'cx\\_%' ESCAPE '\\'").all();
    assert.deepEqual(leftovers, []);
    assert.equal((dropped.writer.prepare('SELECT COUNT(*) AS n FROM ix_composite').get() as { n: number }).n, 0);
    await dropped.close();
  });

  it('are added to a store of schema version 2 by migration 3', async () => {
    const path = join(dir, 'v2.sqlite');
    const db = new DatabaseSync(path);
    migrate(db, 2);
    db.close();
    const store = new SqliteStore({ path, baseUrl: BASE });
    assert.ok((store.writer.prepare('PRAGMA user_version').get() as { user_version: number }).user_version >= 3, 'migrated past 3');
    const repo = new SqliteRepository(store);
    await repo.createResource<Task>({ resourceType: 'Task', status: 'requested', intent: 'order', priority: 'stat', identifier: [{ system: QUEUE, value: 'q0' }] });
    const page = await repo.search(parseSearchRequest(`Task?identifier=${QUEUE}|q0&_sort=-priority-order,due-date`));
    assert.equal(page.entry?.length, 1);
    await store.close();
  });
});
