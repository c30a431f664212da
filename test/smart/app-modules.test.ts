/** The review app's DOM-free modules (plain ES modules shipped to the browser as they are). */
import assert from 'node:assert/strict';

interface QueueItem {
  task: { id: string; priority: string; status: string; authoredOn: string; owner?: { reference: string }; businessStatus?: unknown; restriction?: { period: { end: string } } };
}
interface QueueModel {
  sortQueue(items: QueueItem[]): QueueItem[];
  isOverdue(task: QueueItem['task'], now?: number): boolean;
  FILTERS: Record<string, { test(task: QueueItem['task'], user: string): boolean }>;
}
interface Scopes {
  allows(scope: string, resourceType: string, permission: string): boolean;
}

const load = <T>(file: string): Promise<T> => import(`../../smart-launch/app/js/${file}`) as Promise<T>;

const task = (id: string, priority: string, due: string | undefined, extra: Partial<QueueItem['task']> = {}): QueueItem => ({
  task: { id, priority, status: 'requested', authoredOn: '2026-01-01T00:00:00Z', ...(due ? { restriction: { period: { end: due } } } : {}), ...extra },
});

describe('smart-launch/app/js/queue-model.js', () => {
  it('sorts by priority (stat, asap, urgent, routine), then by the earliest due date', async () => {
    const { sortQueue } = await load<QueueModel>('queue-model.js');
    const sorted = sortQueue([
      task('routine-late', 'routine', '2026-03-01T00:00:00Z'),
      task('urgent-late', 'urgent', '2026-02-10T00:00:00Z'),
      task('routine-early', 'routine', '2026-01-05T00:00:00Z'),
      task('stat', 'stat', undefined),
      task('urgent-early', 'urgent', '2026-02-01T00:00:00Z'),
    ]);
    assert.deepEqual(sorted.map((i) => i.task.id), ['stat', 'urgent-early', 'urgent-late', 'routine-early', 'routine-late']);
  });

  it('marks a case overdue once its due date has passed', async () => {
    const { isOverdue } = await load<QueueModel>('queue-model.js');
    const { task: t } = task('t', 'routine', '2026-01-02T00:00:00Z');
    assert.equal(isOverdue(t, Date.parse('2026-01-01T00:00:00Z')), false);
    assert.equal(isOverdue(t, Date.parse('2026-01-03T00:00:00Z')), true);
  });

  it('filters mine, unassigned and waiting on the patient', async () => {
    const { FILTERS } = await load<QueueModel>('queue-model.js');
    const me = 'Practitioner/1';
    const mine = task('m', 'routine', undefined, { owner: { reference: me }, status: 'accepted' }).task;
    const waiting = task('w', 'routine', undefined, {
      owner: { reference: 'Practitioner/2' },
      status: 'on-hold',
      businessStatus: { coding: [{ code: 'awaiting-patient-response' }] },
    }).task;
    const open = task('o', 'routine', undefined).task;
    assert.deepEqual([mine, waiting, open].filter((t) => FILTERS.mine.test(t, me)).map((t) => t.id), ['m']);
    assert.deepEqual([mine, waiting, open].filter((t) => FILTERS.unassigned.test(t, me)).map((t) => t.id), ['o']);
    assert.deepEqual([mine, waiting, open].filter((t) => FILTERS.waiting.test(t, me)).map((t) => t.id), ['w']);
  });
});

describe('smart-launch/app/js/scopes.js', () => {
  it('reads granted SMART v2 and v1 scopes alike (an EHR may grant v1 when asked for v2)', async () => {
    const { allows } = await load<Scopes>('scopes.js');
    assert.equal(allows('launch user/Task.rus', 'Task', 'u'), true);
    assert.equal(allows('user/Task.rs', 'Task', 'u'), false);
    assert.equal(allows('user/Task.write', 'Task', 'u'), true);
    assert.equal(allows('user/Task.read', 'Task', 'u'), false);
    assert.equal(allows('user/*.*', 'Task', 'u'), true);
    assert.equal(allows('patient/Task.cruds', 'Patient', 'r'), false);
  });
});
