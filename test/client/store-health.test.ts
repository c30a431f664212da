import assert from 'node:assert/strict';
import { cachedStoreHealth, type StoreHealth } from '../../src/client/store-health';

describe('client/store-health: cachedStoreHealth', () => {
  it('asks the store once for any number of concurrent health checks, and reuses the answer for the ttl', async () => {
    let clock = 0;
    let calls = 0;
    let release: (h: StoreHealth) => void = () => undefined;
    const check = (): Promise<StoreHealth> => {
      calls++;
      return new Promise((resolve) => {
        release = resolve;
      });
    };
    const health = cachedStoreHealth(check, 1000, () => clock);
    const waiting = Array.from({ length: 50 }, () => health());
    assert.equal(calls, 1, 'fifty callers, one check in flight');
    release({ ok: true });
    assert.deepEqual(await Promise.all(waiting), Array.from({ length: 50 }, () => ({ ok: true })));
    clock = 999;
    assert.deepEqual(await health(), { ok: true });
    assert.equal(calls, 1, 'within the ttl the answer is reused');
    clock = 1000;
    const next = health();
    assert.equal(calls, 2, 'after it the store is asked again');
    release({ ok: false, reason: 'down' });
    assert.deepEqual(await next, { ok: false, reason: 'down' });
  });
});
