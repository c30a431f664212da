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

interface CaseStoreToken {
  jwtExpiry(jwt: string): number;
  exchangeEhrTokens(ehrClient: FakeEhrClient, config: { caseStore: string; caseStoreTokenEndpoint: string }): Promise<{ access_token: string }>;
}
interface FakeEhrClient {
  state: { serverUrl: string; tokenResponse: Record<string, string> };
  refreshIfNeeded(): Promise<void>;
  refresh(): Promise<void>;
  getPatientId(): string | undefined;
}

describe('smart-launch/app/js/case-store-token.js', () => {
  const jwt = (exp: number) => `e30.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
  const config = { caseStore: 'http://derm.test/fhir/R4', caseStoreTokenEndpoint: 'http://derm.test/smart/case-store-token' };
  let sent: URLSearchParams[];
  const realFetch = globalThis.fetch;

  beforeEach(() => {
    sent = [];
    globalThis.fetch = (async (_url: string, init: { body: URLSearchParams }) => {
      sent.push(init.body);
      return new Response(JSON.stringify({ access_token: 'derm-token', expires_in: 300 }), { status: 200 });
    }) as typeof fetch;
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  const ehrClient = (idTokenExp: number, onRefresh: (state: FakeEhrClient['state']) => void): FakeEhrClient => {
    const client: FakeEhrClient = {
      state: { serverUrl: 'http://epic.test/fhir/R4', tokenResponse: { access_token: 'epic-at', id_token: jwt(idTokenExp), refresh_token: 'rt' } },
      refreshIfNeeded: async () => undefined,
      refresh: async () => onRefresh(client.state),
      getPatientId: () => 'epic-pat-1',
    };
    return client;
  };

  it('sends the EHR id_token as an RFC 8693 subject_token, with the EHR access token, iss and launch patient, and no secret', async () => {
    const { exchangeEhrTokens } = await load<CaseStoreToken>('case-store-token.js');
    const response = await exchangeEhrTokens(ehrClient(Date.now() / 1000 + 3600, () => assert.fail('no refresh needed')), config);
    assert.equal(response.access_token, 'derm-token');
    const body = Object.fromEntries(sent[0]);
    assert.equal(body.grant_type, 'urn:ietf:params:oauth:grant-type:token-exchange');
    assert.equal(body.subject_token_type, 'urn:ietf:params:oauth:token-type:id_token');
    assert.equal(body.ehr_access_token, 'epic-at');
    assert.equal(body.ehr, 'http://epic.test/fhir/R4');
    assert.equal(body.patient, 'epic-pat-1');
    assert.equal(body.resource, config.caseStore);
    assert.equal(Object.keys(body).some((k) => /secret/.test(k)), false);
  });

  it('refreshes at the EHR first when the id_token is about to expire, and sends the new one', async () => {
    const { exchangeEhrTokens } = await load<CaseStoreToken>('case-store-token.js');
    const fresh = jwt(Date.now() / 1000 + 3600);
    await exchangeEhrTokens(ehrClient(Date.now() / 1000 + 30, (state) => { state.tokenResponse = { ...state.tokenResponse, id_token: fresh, access_token: 'epic-at-2' }; }), config);
    assert.equal(sent[0].get('subject_token'), fresh);
    assert.equal(sent[0].get('ehr_access_token'), 'epic-at-2');
  });
});
