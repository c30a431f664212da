/**
 * Binary content files (src/fhir/store/binary-files.ts): bytes live beside the database, are durable
 * before the COMMIT that references them, vanish with a rolled-back write, are swept when a crash
 * left them unreferenced, and are moved out of `binary_content` for stores written before.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Binary, Extension, Media, Resource } from '@medplum/fhirtypes';
import { PENDING_UPLOAD_TAG, PendingUploadReaper } from '../../../src/fhir/store/pending-uploads';
import { migrate } from '../../../src/fhir/store/schema';
import { binaryWithRawBytes, SqliteRepository } from '../../../src/fhir/store/sqlite-repository';
import { SqliteStore } from '../../../src/fhir/store/sqlite-store';

const BASE = 'http://localhost:8103/';

function contentFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
}

function jsonBinary(bytes: Buffer, extra: Partial<Binary> = {}): Binary {
  return { resourceType: 'Binary', contentType: 'image/jpeg', data: bytes.toString('base64'), ...extra };
}

describe('Binary content files (src/fhir/store/binary-files.ts)', () => {
  let dir: string;
  let store: SqliteStore;
  let repo: SqliteRepository;
  const binaryDir = (): string => join(dir, 'binary');

  const open = (guards: SqliteStore['guards'] = []): void => {
    store = new SqliteStore({ path: join(dir, 'dermbridge.sqlite'), binaryDir: binaryDir(), baseUrl: BASE, guards });
    repo = new SqliteRepository(store);
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'dermbridge-binary-files-'));
    open();
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the bytes in one file per version and none of them in the database or its WAL', async () => {
    const marker = Buffer.from(`PHOTO-BYTES-${randomUUID()}`);
    const bytes = Buffer.concat([marker, randomBytes(200_000)]);
    const created = await repo.createResource(jsonBinary(bytes));
    const files = contentFiles(binaryDir());
    assert.equal(files.length, 1);
    assert.ok(readFileSync(files[0]).equals(bytes));
    for (const file of ['dermbridge.sqlite', 'dermbridge.sqlite-wal']) {
      const path = join(dir, file);
      assert.ok(!existsSync(path) || !readFileSync(path).includes(marker), `${file} holds photo bytes`);
    }
    const read = await repo.readResource<Binary>('Binary', created.id);
    assert.equal(read.data, bytes.toString('base64'));
  });

  it('takes raw bytes as handed over by the route, without base64', async () => {
    const bytes = randomBytes(10_000);
    const created = await repo.createResource(binaryWithRawBytes({ resourceType: 'Binary', contentType: 'image/png' }, bytes));
    const content = repo.readBinaryContent(created.id);
    assert.equal(content.size, bytes.length);
    assert.ok(readFileSync(content.path as string).equals(bytes));
    assert.equal((created as Binary).data, undefined, 'the answer does not echo the content');
  });

  it('keeps every version’s bytes: vread of an old version returns them after an update and a delete', async () => {
    const first = randomBytes(1000);
    const second = randomBytes(1000);
    const v1 = await repo.createResource(jsonBinary(first));
    await repo.updateResource(jsonBinary(second, { id: v1.id }));
    await repo.deleteResource('Binary', v1.id);
    const old = await repo.readVersion<Binary>('Binary', v1.id, v1.meta?.versionId as string);
    assert.equal(old.data, first.toString('base64'));
    assert.equal(contentFiles(binaryDir()).length, 2);
  });

  it('removes the file of a Binary whose transaction rolls back', async () => {
    await assert.rejects(
      repo.withTransaction(async (tx) => {
        await tx.createResource(jsonBinary(randomBytes(5000)));
        assert.equal(contentFiles(binaryDir()).length, 1, 'written and synced before the COMMIT');
        throw new Error('a later entry fails');
      })
    );
    assert.deepEqual(contentFiles(binaryDir()), []);
  });

  it('removes the file of a grouped write that a guard refuses, and keeps its neighbours’', async () => {
    await store.close();
    const refuse = (next: Resource): void => {
      if (next.resourceType === 'Binary' && (next as Binary).contentType === 'application/x-refused') {
        throw new OperationOutcomeError(badRequest('refused'));
      }
    };
    open([refuse]);
    const [ok, refused] = await Promise.allSettled([
      repo.createResource(jsonBinary(randomBytes(100))),
      repo.createResource(jsonBinary(randomBytes(100), { contentType: 'application/x-refused' })),
    ]);
    assert.equal(ok.status, 'fulfilled');
    assert.equal(refused.status, 'rejected');
    assert.equal(contentFiles(binaryDir()).length, 1);
  });

  it('sweeps at start-up after a crash the files left between file write and COMMIT', async () => {
    const kept = await repo.createResource(jsonBinary(randomBytes(100)));
    const keptFile = store.binaries.pathOf(kept.id, kept.meta?.versionId as string);
    const orphan = store.binaries.pathOf(randomUUID(), randomUUID());
    mkdirSync(dirname(orphan), { recursive: true });
    writeFileSync(orphan, 'never committed');
    writeFileSync(`${keptFile}.abc123.tmp`, 'half written');
    await store.close();
    // As after kill -9: no clean-close marker, so the next open sweeps.
    rmSync(join(binaryDir(), '.closed-cleanly'));
    open();
    assert.deepEqual(contentFiles(binaryDir()), [keptFile]);
  });

  it('moves the bytes of a store written before content files out of binary_content, and still serves them', async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    // A store as the previous release wrote it: schema version 3, bytes in binary_content.
    const old = new DatabaseSync(join(dir, 'dermbridge.sqlite'));
    old.exec('PRAGMA journal_mode = WAL');
    migrate(old, 3);
    const bytes = randomBytes(50_000);
    const content = JSON.stringify({ resourceType: 'Binary', id: 'old-photo', contentType: 'image/jpeg', meta: { versionId: 'v1', lastUpdated: '2026-01-01T00:00:00.000Z' } });
    const { lastInsertRowid: rid } = old
      .prepare("INSERT INTO resource (type, id, version_id, last_updated, content) VALUES ('Binary', 'old-photo', 'v1', '2026-01-01T00:00:00.000Z', ?)")
      .run(content);
    old.prepare("INSERT INTO resource_version (rid, version_id, last_updated, deleted, content) VALUES (?, 'v1', '2026-01-01T00:00:00.000Z', 0, ?)").run(rid, content);
    old.prepare("INSERT INTO binary_content (rid, version_id, bytes) VALUES (?, 'v1', ?)").run(rid, bytes);
    old.close();

    open();
    const read = await repo.readResource<Binary>('Binary', 'old-photo');
    assert.equal(read.data, bytes.toString('base64'));
    assert.equal((store.writer.prepare('SELECT COUNT(*) AS n FROM binary_content').get() as { n: number }).n, 0);
    assert.deepEqual(contentFiles(binaryDir()), [store.binaries.pathOf('old-photo', 'v1')]);
    // Opening again finds nothing left to move and sweeps nothing away.
    await store.close();
    open();
    assert.equal((await repo.readResource<Binary>('Binary', 'old-photo')).data, bytes.toString('base64'));
  });

  describe('pending uploads (src/fhir/store/pending-uploads.ts)', () => {
    const pending = (bytes: Buffer): Binary => jsonBinary(bytes, { meta: { tag: [{ ...PENDING_UPLOAD_TAG }] } });
    const media = (binaryId: string): Media => ({
      resourceType: 'Media',
      status: 'completed',
      content: { contentType: 'image/jpeg', url: `Binary/${binaryId}` },
    });

    it('expunges a pending upload deleted before any Media claimed it: no bytes, no readable version', async () => {
      const upload = await repo.createResource(pending(randomBytes(1000)));
      await repo.deleteResource('Binary', upload.id);
      assert.deepEqual(contentFiles(binaryDir()), []);
      await assert.rejects(repo.readVersion('Binary', upload.id, upload.meta?.versionId as string), (err: OperationOutcomeError) =>
        /gone|deleted/i.test(JSON.stringify(err.outcome))
      );
      const history = await repo.readHistory<Binary>('Binary', upload.id);
      assert.ok(history.entry?.every((e) => e.resource === undefined), 'no version in the history carries the Binary');
    });

    it('keeps the history of a claimed upload on delete, as for any resource', async () => {
      const bytes = randomBytes(1000);
      const upload = await repo.createResource(pending(bytes));
      await repo.createResource(media(upload.id));
      await repo.deleteResource('Binary', upload.id);
      const old = await repo.readVersion<Binary>('Binary', upload.id, upload.meta?.versionId as string);
      assert.equal(old.data, bytes.toString('base64'));
    });

    it('counts an attachment in a Media extension (a review copy, a thumbnail) as a claim, nested or not', async () => {
      const review = await repo.createResource(pending(randomBytes(500)));
      const thumbnail = await repo.createResource(pending(randomBytes(100)));
      const other = await repo.createResource(pending(randomBytes(100)));
      const attachment = (id: string): Extension => ({ url: 'image', valueAttachment: { contentType: 'image/jpeg', url: `${store.baseUrl}fhir/R4/Binary/${id}` } });
      await repo.createResource<Media>({
        ...media(other.id),
        content: { contentType: 'image/jpeg', url: `Binary/${other.id}` },
        extension: [attachment(review.id), { url: 'https://example.org/derivative', extension: [{ url: 'purpose', valueCode: 'thumbnail' }, attachment(thumbnail.id)] }],
      });
      const stillPending = (store.reader.prepare('SELECT id FROM binary_pending').all() as { id: string }[]).map((r) => r.id);
      assert.deepEqual(stillPending.filter((id) => [review.id, thumbnail.id, other.id].includes(id)), []);
    });

    it('reaps unclaimed uploads after the grace period, once, and leaves claimed ones alone', async () => {
      const orphan = await repo.createResource(pending(randomBytes(1000)));
      const claimed = await repo.createResource(pending(randomBytes(1000)));
      await repo.withTransaction(async (tx) => tx.createResource(media(claimed.id)));
      const reaper = new PendingUploadReaper(store, (id) => repo.deleteResource('Binary', id), { graceMs: 60_000, intervalMs: 60_000 });
      assert.equal(await reaper.reapOnce(), 0, 'within the grace period nothing is reaped');
      assert.equal(await reaper.reapOnce(Date.now() + 120_000), 1, 'past it, the unclaimed one only');
      assert.equal(await reaper.reapOnce(Date.now() + 120_000), 0, 'and only once');
      await assert.rejects(repo.readResource('Binary', orphan.id));
      assert.ok((await repo.readResource<Binary>('Binary', claimed.id)).data);
      assert.deepEqual(contentFiles(binaryDir()), [store.binaries.pathOf(claimed.id, claimed.meta?.versionId as string)]);
      await reaper.stop();
    });
  });
});
