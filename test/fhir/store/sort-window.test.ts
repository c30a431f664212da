/**
 * The `_sort=_lastUpdated` window (src/fhir/store/resource-reader.ts `windowQuery`): walking the
 * newest (or oldest) rows of a type must give exactly the page the general plan gives, and fall
 * back to it when the window holds too few matches.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSearchRequest } from '@medplum/core';
import type { Bundle, Resource, Task } from '@medplum/fhirtypes';
import { windowQuery } from '../../../src/fhir/store/resource-reader';
import { SqliteRepository } from '../../../src/fhir/store/sqlite-repository';
import { SqliteStore } from '../../../src/fhir/store/sqlite-store';

const BASE = 'http://localhost:8103/';
const STATUSES = ['requested', 'accepted', 'in-progress', 'on-hold', 'completed'] as const;
const PRIORITIES = ['routine', 'urgent', 'asap', 'stat'] as const;

/** Tasks, updates and deletes (many written in the same millisecond: ties). */
async function fill(repo: SqliteRepository): Promise<void> {
  const tasks: Task[] = [];
  for (let i = 0; i < 200; i++) {
    const task: Task = { resourceType: 'Task', id: `t${i}`, status: STATUSES[(i * 7) % 5], intent: 'order', priority: PRIORITIES[(i * 3) % 4] };
    tasks.push(await repo.createResource(task, { assignedId: true }));
  }
  for (let i = 0; i < 200; i += 7) {
    await repo.updateResource<Task>({ ...tasks[i], status: 'requested' });
  }
  for (let i = 3; i < 200; i += 11) {
    await repo.deleteResource('Task', `t${i}`);
  }
}

const QUERIES = [
  'Task?status=requested&_sort=-_lastUpdated&_count=3',
  'Task?status=requested&_sort=-_lastUpdated&_count=3&_offset=2',
  'Task?status=requested&_sort=_lastUpdated&_count=4&_total=accurate',
  'Task?status=requested,accepted&_sort=-_lastUpdated&_count=5&_offset=4',
  'Task?status=on-hold&priority=stat&_sort=-_lastUpdated&_count=5',
  'Task?status:not=completed&_sort=-_lastUpdated&_count=2',
  'Task?priority=urgent&_sort=_lastUpdated&_count=0&_total=accurate',
  'Task?status=requested&_sort=-_lastUpdated&_count=50',
];

function summary(bundle: Bundle): string {
  return JSON.stringify({ ids: bundle.entry?.map((e) => (e.resource as Resource).id), total: bundle.total, link: bundle.link });
}

describe('the _lastUpdated sort window', () => {
  let general: SqliteStore;
  let windowed: SqliteStore;

  let dir: string;

  // One file seen through two stores: timestamps (and so their ties) must be the same on both sides.
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dermbridge-window-'));
    windowed = new SqliteStore({ path: join(dir, 'store.sqlite'), baseUrl: BASE, sortWindowRows: 40 });
    await fill(new SqliteRepository(windowed));
    general = new SqliteStore({ path: join(dir, 'store.sqlite'), baseUrl: BASE, sortWindowRows: 0 });
  });

  after(async () => {
    await general.close();
    await windowed.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the same pages as the general plan, whether the window holds the page or not', async () => {
    for (const query of QUERIES) {
      const request = parseSearchRequest(query);
      const expected = await new SqliteRepository(general).search(request);
      const actual = await new SqliteRepository(windowed).search(request);
      assert.equal(summary(actual), summary(expected), query);
    }
  });

  it('answers a common filter from the window, walking the index newest first', () => {
    const request = parseSearchRequest(QUERIES[0]);
    const window = windowQuery(windowed, windowed.reader, request, 4, 0);
    assert.ok(window);
    assert.equal(windowed.reader.prepare(window.sql).all(...window.args).length, 4, 'the window holds the whole page');
    const plan = (windowed.reader.prepare(`EXPLAIN QUERY PLAN ${window.sql}`).all(...window.args) as { detail: string }[]).map((r) => r.detail);
    assert.equal(plan[0], 'SEARCH r USING INDEX resource_type_updated (type=? AND last_updated>?)', plan.join('\n'));
    assert.ok(plan.some((step) => /^SEARCH x USING (COVERING )?INDEX ix_token_sort \(rid=\? AND pid=\?\)$/.test(step)), plan.join('\n'));
  });

  it('is not used for a rare driving filter, another sort or a deep page', () => {
    const window = (query: string, limit = 4, offset = 0): unknown =>
      windowQuery(windowed, windowed.reader, parseSearchRequest(query), limit, offset);
    assert.equal(window('Task?_id=t1&_sort=-_lastUpdated'), undefined, 'no driving index lookup');
    assert.equal(window('Task?status=unknown-code&_sort=-_lastUpdated'), undefined, 'driver selects few rows');
    assert.equal(window('Task?status=requested&_sort=-priority-order'), undefined, 'another sort');
    assert.equal(window('Task?status=requested&_sort=-_lastUpdated', 4, 30), undefined, 'deep page');
  });
});
