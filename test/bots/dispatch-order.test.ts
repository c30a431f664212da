/**
 * The order the embedded dispatcher runs queued bot runs in: a bot marked `runsFirst` (triage)
 * goes ahead of the others' runs queued before it, and writes no bot watches still let later
 * watched changes through.
 */
import { MedplumClient } from '@medplum/core';
import type { Basic } from '@medplum/fhirtypes';
import assert from 'node:assert/strict';
import pino from 'pino';
import { AuditLog } from '../../src/audit/audit-log';
import type { BotDefinition, BotHandler } from '../../src/bots/bot-catalog';
import { BotDispatcher } from '../../src/bots/bot-dispatcher';
import { seedBots } from '../../src/bots/seed-bots';
import { SqliteRepository } from '../../src/fhir/store/sqlite-repository';
import { SqliteStore } from '../../src/fhir/store/sqlite-store';
import { waitFor } from './support';

describe('bot dispatcher: run order', () => {
  let store: SqliteStore;
  let repo: SqliteRepository;
  let audit: AuditLog;
  let dispatcher: BotDispatcher;
  const runs: string[] = [];
  const recorder =
    (name: string): BotHandler =>
    async (_medplum, event) => {
      const text = (event.input as Basic).code?.text;
      if (text === 'fails') {
        throw new Error('fails on purpose');
      }
      runs.push(`${name}:${text}`);
    };
  const definitions: BotDefinition[] = [
    { name: 'test-later', description: 'queued first, runs after', triggers: [{ criteria: 'Basic' }] },
    { name: 'test-first', description: 'runs first', triggers: [{ criteria: 'Basic' }], runsFirst: true },
  ];

  before(async () => {
    store = new SqliteStore({ path: ':memory:', baseUrl: 'http://127.0.0.1/' });
    repo = new SqliteRepository(store);
    audit = new AuditLog(store);
    await seedBots(repo, definitions);
    dispatcher = new BotDispatcher({
      store,
      repo,
      audit,
      logger: pino({ level: 'silent' }),
      definitions,
      handlers: new Map([
        ['test-later', recorder('later')],
        ['test-first', recorder('first')],
      ]),
      // The recording bots never call the store: a real client that is never used.
      connect: async () => new MedplumClient({ baseUrl: 'http://127.0.0.1:9/', fetch: () => Promise.reject(new Error('unused')) }),
      // A failed run waits a minute for its retry: long enough to be seen queued.
      retry: { maxAttempts: 3, baseDelayMs: 60_000, maxDelayMs: 60_000, timeoutMs: 10_000 },
    });
  });

  after(async () => {
    await dispatcher.stop();
    audit.stop();
    await store.close();
  });

  it('runs the runsFirst bot’s queued runs before the others’, each bot in commit order', async () => {
    // Committed before the dispatcher starts: all six runs are queued in one go, interleaved
    // (later:1, first:1, later:2, …) in the order the changes and subscriptions were matched.
    for (const n of [1, 2, 3]) {
      await repo.createResource<Basic>({ resourceType: 'Basic', code: { text: `case ${n}` } });
    }
    assert.ok(dispatcher.queue().changesBehind >= 3, 'the three changes (and the seeded Bots) are not matched yet');
    dispatcher.start();
    await waitFor(async () => (runs.length === 6 ? true : undefined), 10_000, 'six runs');
    assert.deepEqual(runs, ['first:case 1', 'first:case 2', 'first:case 3', 'later:case 1', 'later:case 2', 'later:case 3']);
    await dispatcher.idle();
    assert.deepEqual(dispatcher.queue(), { pending: [], changesBehind: 0 });
  });

  it('lists a failed run waiting for its retry in the queue, under its bot and priority', async () => {
    runs.length = 0;
    await repo.createResource<Basic>({ resourceType: 'Basic', code: { text: 'fails' } });
    const queued = await waitFor(async () => {
      const { pending } = dispatcher.queue();
      return pending.length === 2 && pending.every((p) => p.retrying === 1) ? pending : undefined;
    }, 10_000, 'two retrying runs');
    assert.deepEqual(
      queued.map((q) => [q.priority, q.runs]),
      [
        [0, 1],
        [1, 1],
      ]
    );
    assert.ok(Date.parse(queued[0].oldest) <= Date.now());
    await store.coordinator.grouped(() => store.writer.exec("DELETE FROM bot_delivery WHERE status = 'pending'"));
  });

  it('still delivers a watched change that follows writes no bot watches', async () => {
    runs.length = 0;
    for (let i = 0; i < 30; i++) {
      await repo.createResource({ resourceType: 'Patient', name: [{ family: `Unwatched${i}` }] });
    }
    await repo.createResource<Basic>({ resourceType: 'Basic', code: { text: 'case 4' } });
    await waitFor(async () => (runs.length === 2 ? true : undefined), 10_000, 'two runs');
    assert.deepEqual(runs, ['first:case 4', 'later:case 4']);
    // Unwatched writes after the last watched one never wake the dispatcher, so its cursor stays
    // before them: they owe nothing and must not show as the bots falling behind.
    for (let i = 0; i < 10; i++) {
      await repo.createResource({ resourceType: 'Patient', name: [{ family: `After${i}` }] });
    }
    await dispatcher.idle();
    assert.deepEqual(dispatcher.queue(), { pending: [], changesBehind: 0 });
  });
});
