import type { MedplumClient } from '@medplum/core';
import { getReferenceString, normalizeErrorString, parseSearchRequest, resourceMatchesSubscriptionCriteria } from '@medplum/core';
import type { Bot, Resource, Subscription } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { AuditSink } from '../audit/audit-entry';
import type { SqliteRepository } from '../fhir/store/sqlite-repository';
import type { CommittedChange, SqliteStore } from '../fhir/store/sqlite-store';
import type { BotDefinition, BotHandler } from './bot-catalog';
import { BOT_IDENTIFIER_SYSTEM } from './bot-catalog';
import type { DeliveryRow, QueuedRuns } from './dispatch-tables';
import { DispatchTables, RUNS_FIRST, RUNS_ORDINARY } from './dispatch-tables';

export interface DispatcherDeps {
  readonly store: SqliteStore;
  readonly repo: SqliteRepository;
  readonly audit: AuditSink;
  readonly logger: Logger;
  readonly definitions: readonly BotDefinition[];
  readonly handlers: ReadonlyMap<string, BotHandler>;
  /** The bots' MedplumClient (the system client); called lazily, retried while the server starts. */
  readonly connect: () => Promise<MedplumClient>;
  readonly retry?: RetryPolicy;
}

export interface RetryPolicy {
  /** Attempts before a delivery is dead-lettered, unless the Subscription sets Medplum's max-attempts extension. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A bot run taking longer than this counts as a failure. */
  readonly timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 1000, maxDelayMs: 5 * 60_000, timeoutMs: 60_000 };

const MAX_ATTEMPTS_EXT = 'https://medplum.com/fhir/StructureDefinition/subscription-max-attempts';
const CURSOR = 'change_log';
const SCHEDULE_PREFIX = 'schedule:';
const BATCH = 200;
/** How often a cursor that only moved past changes owing nothing is saved. */
const CURSOR_SAVE_INTERVAL_MS = 1000;

/**
 * Runs bots for committed changes, as Medplum's server does for rest-hook Subscriptions whose
 * endpoint is `Bot/<id>` (https://www.medplum.com/docs/bots/bot-basics). Driven by a durable
 * cursor over the store's change_log, so it runs strictly after commit and catches up after a
 * restart; each owed run is a row that is retried with exponential backoff and finally
 * dead-lettered (with an AuditEvent), never dropped.
 */
export class BotDispatcher {
  private readonly tables: DispatchTables;
  private readonly retry: RetryPolicy;
  private subscriptions: Subscription[] | undefined;
  private client: MedplumClient | undefined;
  private connectFailingSince: number | undefined;
  /** The change_log position read up to; the saved one may lag behind it by changes that owed nothing. */
  private cursor: number | undefined;
  private cursorSaved: number | undefined;
  /** Set with `subscriptions`: the types some subscription watches, and each Bot's run priority. */
  private watchedTypes: Set<string> | undefined;
  private botPriority = new Map<string, number>();
  private cursorSavedAt = 0;
  private pumping: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private scheduleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DispatcherDeps) {
    this.tables = new DispatchTables(deps.store.writer, deps.store.reader);
    this.retry = deps.retry ?? DEFAULT_RETRY;
  }

  start(): void {
    this.deps.store.onCommitted((changes) => this.onCommitted(changes));
    this.scheduleTimer = setInterval(() => void this.enqueueScheduled().catch((err: unknown) => this.deps.logger.error({ err }, 'bot schedule failed')), 30_000);
    this.scheduleTimer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.scheduleTimer);
    await this.pumping;
    const cursor = this.cursor;
    if (cursor !== undefined && cursor !== this.cursorSaved) {
      await this.deps.store.coordinator
        .grouped(() => this.tables.upsertCursor.run(CURSOR, cursor))
        .catch((err: unknown) => this.deps.logger.warn({ err }, 'bot cursor not saved at stop; the next start re-reads changes that owed nothing'));
    }
  }

  /** Resolves when nothing is owed right now (pending retries in the future do not count). */
  async idle(): Promise<void> {
    while (this.pumping) {
      await this.pumping;
    }
  }

  /** Runs a bot now on an input (`$execute`), outside the queue. */
  async execute(bot: Bot & { id: string }, input: unknown): Promise<unknown> {
    const handler = this.handlerFor(bot);
    return handler(await this.connectClient(), {
      bot: { reference: getReferenceString(bot) },
      contentType: 'application/fhir+json',
      input,
      secrets: {},
      traceId: `execute-${Date.now()}`,
    });
  }

  listDeadLetters(limit = 100): DeliveryRow[] {
    return this.tables.selectDead.all(limit) as unknown as DeliveryRow[];
  }

  /**
   * How far behind the bots are: runs queued per bot (due now or waiting for a retry) and the
   * committed changes of watched types not yet matched against the subscriptions.
   */
  queue(): { readonly pending: QueuedRuns[]; readonly changesBehind: number } {
    const cursor = this.cursor ?? (this.tables.selectCursor.get(CURSOR) as { value: number } | undefined)?.value ?? 0;
    const watched = this.subscriptions && this.watchedTypes ? JSON.stringify([...this.watchedTypes]) : null;
    return {
      pending: this.tables.selectQueue.all() as unknown as QueuedRuns[],
      changesBehind: (this.tables.countChangesAfter.get(cursor, watched) as { n: number }).n,
    };
  }

  /** Runs that failed at least once and wait for their next attempt. */
  listRetrying(limit = 100): DeliveryRow[] {
    return this.tables.selectRetrying.all(limit) as unknown as DeliveryRow[];
  }

  /** Puts a dead letter back in the queue with fresh attempts; false when there is no such dead letter. */
  async replay(id: number): Promise<DeliveryRow | undefined> {
    const now = new Date().toISOString();
    const changed = await this.deps.store.coordinator.grouped(() => Number(this.tables.replay.run(Date.now(), now, id).changes));
    this.kick();
    return changed ? (this.tables.selectOne.get(id) as unknown as DeliveryRow) : undefined;
  }

  /** Enqueues a scheduled bot's run now (SLA escalation), through the same retry path. */
  async enqueueRun(botId: string, maxAttempts = this.retry.maxAttempts): Promise<void> {
    const now = new Date().toISOString();
    await this.deps.store.coordinator.grouped(() =>
      this.tables.insertDelivery.run(null, null, botId, null, null, null, 'scheduled', maxAttempts, Date.now(), now, now, RUNS_ORDINARY)
    );
    this.kick();
  }

  private onCommitted(changes: CommittedChange[]): void {
    if (changes.some((c) => c.resourceType === 'Subscription' || c.resourceType === 'Bot')) {
      this.subscriptions = undefined;
    }
    // A commit of types no bot watches owes nothing: no pump (its queries and, once a second, a
    // cursor save) for every unrelated write. The cursor passes those changes on the next pump.
    const watched = this.watchedTypes;
    if (this.subscriptions && watched && !changes.some((c) => watched.has(c.resourceType))) {
      return;
    }
    this.kick();
  }

  private kick(): void {
    if (this.stopped) {
      return;
    }
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = this.pump()
      .catch((err: unknown) => {
        if (!(err instanceof PumpPaused)) {
          this.deps.logger.error({ err }, 'bot dispatcher pump failed');
        }
        this.wakeAt(Date.now() + this.retry.baseDelayMs);
      })
      .finally(() => {
        this.pumping = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async pump(): Promise<void> {
    for (;;) {
      this.again = false;
      const enqueued = await this.enqueueChanges();
      const due = this.tables.selectDue.all(Date.now(), 20) as unknown as DeliveryRow[];
      for (const delivery of due) {
        if (this.stopped) {
          return;
        }
        await this.deliver(delivery);
        if (this.again) {
          // New commits: their runs are enqueued and the order recomputed before the next run,
          // so a new case's triage need not wait behind older cases' photo checks.
          break;
        }
      }
      if (!enqueued && due.length === 0 && !this.again) {
        break;
      }
    }
    const next = (this.tables.selectNextDue.get() as { nextAt: number | null }).nextAt;
    if (next !== null) {
      this.wakeAt(next);
    }
  }

  private wakeAt(at: number): void {
    clearTimeout(this.timer);
    if (this.stopped) {
      return;
    }
    this.timer = setTimeout(() => this.kick(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  /** Matches the next committed changes against the active subscriptions; true if it moved the cursor. */
  private async enqueueChanges(): Promise<boolean> {
    const cursor = (this.cursor ??= (this.tables.selectCursor.get(CURSOR) as { value: number } | undefined)?.value ?? 0);
    const changes = this.tables.selectChanges.all(cursor, BATCH) as unknown as CommittedChange[];
    if (changes.length === 0) {
      return false;
    }
    const subscriptions = await this.activeSubscriptions();
    const owed: [CommittedChange, Subscription][] = [];
    const watchedTypes = this.watchedTypes ?? new Set<string>();
    for (const change of changes) {
      // Deletes are not dispatched (no bot subscribes to them); unwatched types are not even read.
      if (change.interaction === 'delete' || !watchedTypes.has(change.resourceType)) {
        continue;
      }
      const resource = await this.deps.repo.readVersion(change.resourceType, change.id, change.versionId).catch(() => undefined);
      if (!resource) {
        continue;
      }
      for (const subscription of subscriptions) {
        if (await this.matches(resource, subscription, change.interaction)) {
          owed.push([change, subscription]);
        }
      }
    }
    const last = changes[changes.length - 1].seq;
    if (owed.length === 0 && Date.now() - this.cursorSavedAt < CURSOR_SAVE_INTERVAL_MS) {
      // Nothing to deliver: saving the cursor is only a shortcut for the next start-up, which
      // would otherwise re-read these changes and again find nothing owed. Saving it once a
      // second instead of once per commit spares every unrelated write a second transaction.
      this.cursor = last;
      return true;
    }
    this.cursorSavedAt = Date.now();
    const now = new Date().toISOString();
    await this.deps.store.coordinator.grouped(() => {
      for (const [change, subscription] of owed) {
        this.tables.insertDelivery.run(
          change.seq,
          subscription.id as string,
          botIdOf(subscription) as string,
          change.resourceType,
          change.id,
          change.versionId,
          change.interaction,
          maxAttemptsOf(subscription) ?? this.retry.maxAttempts,
          Date.now(),
          now,
          now,
          this.botPriority.get(botIdOf(subscription) as string) ?? RUNS_ORDINARY
        );
      }
      this.tables.upsertCursor.run(CURSOR, last);
    });
    // Only now: had the write failed, these changes' deliveries would be owed still.
    this.cursor = this.cursorSaved = last;
    return true;
  }

  private async matches(resource: Resource, subscription: Subscription, interaction: 'create' | 'update'): Promise<boolean> {
    try {
      return await resourceMatchesSubscriptionCriteria({
        resource,
        subscription,
        context: { interaction },
        getPreviousResource: (current) => this.previousVersion(current),
      });
    } catch (err) {
      this.deps.logger.warn({ err, subscription: subscription.id }, 'subscription criteria could not be evaluated');
      return false;
    }
  }

  private async previousVersion(current: Resource): Promise<Resource | undefined> {
    const history = await this.deps.repo.readHistory(current.resourceType, current.id as string);
    const entries = history.entry ?? [];
    const at = entries.findIndex((e) => e.resource?.meta?.versionId === current.meta?.versionId);
    return at >= 0 ? entries[at + 1]?.resource : undefined;
  }

  private async activeSubscriptions(): Promise<Subscription[]> {
    if (!this.subscriptions) {
      const all = await this.deps.repo.searchResources<Subscription>(parseSearchRequest('Subscription?status=active&_count=1000'));
      const subscriptions = all.filter((s) => s.channel?.type === 'rest-hook' && botIdOf(s));
      const first = new Set(this.deps.definitions.filter((d) => d.runsFirst).map((d) => d.name));
      const bots = await this.deps.repo.searchResources<Bot>(parseSearchRequest('Bot?_count=1000'));
      this.botPriority = new Map(
        bots.map((bot) => [bot.id as string, first.has(bot.identifier?.find((i) => i.system === BOT_IDENTIFIER_SYSTEM)?.value ?? '') ? RUNS_FIRST : RUNS_ORDINARY])
      );
      this.watchedTypes = new Set(subscriptions.map((s) => (s.criteria ?? '').split('?')[0]));
      this.subscriptions = subscriptions;
    }
    return this.subscriptions;
  }

  private async deliver(delivery: DeliveryRow): Promise<void> {
    let client: MedplumClient;
    try {
      client = await this.connectClient();
    } catch (err) {
      // The server itself is not reachable yet (still starting): not the bot's failure. Said loudly
      // when it lasts, e.g. a baseUrl this process cannot reach: runs are owed, none is lost.
      this.connectFailingSince ??= Date.now();
      const lasting = Date.now() - this.connectFailingSince > 30_000;
      this.deps.logger[lasting ? 'warn' : 'debug']({ err, since: new Date(this.connectFailingSince).toISOString() }, 'bots cannot connect to the store; runs wait');
      this.wakeAt(Date.now() + this.retry.baseDelayMs);
      throw new PumpPaused();
    }
    try {
      const bot = await this.deps.repo.readResource<Bot>('Bot', delivery.bot);
      const handler = this.handlerFor(bot);
      const input = delivery.resourceType
        ? await this.deps.repo.readVersion(delivery.resourceType, delivery.resourceId as string, delivery.versionId as string)
        : {};
      await withTimeout(
        handler(client, { bot: { reference: `Bot/${delivery.bot}` }, contentType: 'application/fhir+json', input, secrets: {}, traceId: `delivery-${delivery.id}` }),
        this.retry.timeoutMs
      );
      await this.deps.store.coordinator.grouped(() => this.tables.deleteDelivery.run(delivery.id));
    } catch (err) {
      await this.recordFailure(delivery, normalizeErrorString(err));
    }
  }

  private async recordFailure(delivery: DeliveryRow, error: string): Promise<void> {
    const attempts = delivery.attempts + 1;
    const dead = attempts >= delivery.maxAttempts;
    const delay = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempts - 1));
    const now = new Date().toISOString();
    await this.deps.store.coordinator.grouped(() =>
      this.tables.markFailed.run(dead ? 'dead' : 'pending', attempts, Date.now() + delay, error.slice(0, 2000), now, delivery.id)
    );
    this.deps.logger.warn({ delivery: delivery.id, bot: delivery.bot, attempts, dead, error }, dead ? 'bot run dead-lettered' : 'bot run failed; will retry');
    if (dead) {
      const entity = delivery.resourceType ? [`${delivery.resourceType}/${delivery.resourceId}/_history/${delivery.versionId}`] : [];
      await this.deps.audit.record({
        action: 'E',
        interaction: 'execute',
        outcome: '8',
        outcomeDesc: `Bot run dead-lettered after ${attempts} attempts (delivery ${delivery.id}): ${error}`.slice(0, 1000),
        agent: `Bot/${delivery.bot}`,
        clientId: 'bot-dispatcher',
        tokenId: `delivery-${delivery.id}`,
        entities: [`Bot/${delivery.bot}`, ...(delivery.subscription ? [`Subscription/${delivery.subscription}`] : []), ...entity],
        patients: [],
      });
    }
  }

  private handlerFor(bot: Bot): BotHandler {
    const name = bot.identifier?.find((i) => i.system === BOT_IDENTIFIER_SYSTEM)?.value ?? bot.name;
    const handler = name ? this.deps.handlers.get(name) : undefined;
    if (!handler) {
      throw new Error(`No bot code for Bot/${bot.id} (${name ?? 'no name'})`);
    }
    return handler;
  }

  private async connectClient(): Promise<MedplumClient> {
    this.client ??= await this.deps.connect();
    this.connectFailingSince = undefined;
    return this.client;
  }

  /** Scheduled bots: one run per period, the last run time kept in the store (not in memory). */
  async enqueueScheduled(now = Date.now()): Promise<number> {
    let enqueued = 0;
    for (const def of this.deps.definitions.filter((d) => d.everyMinutes)) {
      const key = SCHEDULE_PREFIX + def.name;
      const last = (this.tables.selectCursor.get(key) as { value: number } | undefined)?.value ?? 0;
      if (now - last < (def.everyMinutes as number) * 60_000) {
        continue;
      }
      const bot = await this.deps.repo.searchOne<Bot>(parseSearchRequest(`Bot?identifier=${BOT_IDENTIFIER_SYSTEM}|${def.name}`));
      if (!bot) {
        continue;
      }
      await this.deps.store.coordinator.grouped(() => this.tables.upsertCursor.run(key, now));
      await this.enqueueRun(bot.id);
      enqueued++;
    }
    return enqueued;
  }
}

class PumpPaused extends Error {}

function botIdOf(subscription: Subscription): string | undefined {
  const match = /^Bot\/([A-Za-z0-9\-.]{1,64})$/.exec(subscription.channel?.endpoint ?? '');
  return match?.[1];
}

function maxAttemptsOf(subscription: Subscription): number | undefined {
  const value = subscription.extension?.find((e) => e.url === MAX_ATTEMPTS_EXT)?.valueInteger;
  return value && value > 0 ? value : undefined;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`bot run timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
