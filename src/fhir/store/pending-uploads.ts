import type { Binary, Extension, Media, Resource } from '@medplum/fhirtypes';
import type { StatementSync } from 'node:sqlite';
import type { SqliteStore } from './sqlite-store';

/**
 * `meta.tag` of a Binary uploaded ahead of the resource that will reference it (the intake's photo
 * images, uploaded before the case transaction). Set by the server from the
 * `X-Upload-State: pending` header of a raw `POST Binary` (MedplumClient.createBinary sends only
 * bytes and headers); a real Medplum server ignores the header.
 */
export const PENDING_UPLOAD_TAG = { system: 'https://dermbridge.example.org/fhir/CodeSystem/upload-state', code: 'pending' } as const;

/** Request header that marks a raw Binary upload as pending until a Media names it. */
export const PENDING_UPLOAD_HEADER = 'x-upload-state';

export function isPendingUpload(resource: Resource): boolean {
  return Boolean(resource.meta?.tag?.some((t) => t.system === PENDING_UPLOAD_TAG.system && t.code === PENDING_UPLOAD_TAG.code));
}

export function withPendingTag(binary: Binary): Binary {
  return { ...binary, meta: { ...binary.meta, tag: [...(binary.meta?.tag ?? []), { ...PENDING_UPLOAD_TAG }] } };
}

/**
 * The Binaries a Media names, which claims those uploads: its `content` and any attachment in its
 * extensions (the intake's review copy and thumbnail, `…/photo-derivative`), each as `Binary/<id>`
 * or a URL ending in it.
 */
export function claimedBinaryIds(resource: Resource): string[] {
  if (resource.resourceType !== 'Media') {
    return [];
  }
  const media = resource as Media;
  const urls = [media.content?.url, ...attachmentUrls(media.extension)];
  return urls.flatMap((url) => {
    const id = url ? BINARY_URL.exec(url)?.[1] : undefined;
    return id ? [id] : [];
  });
}

const BINARY_URL = /(?:^|\/)Binary\/([A-Za-z0-9\-.]{1,64})$/;

function attachmentUrls(extensions: readonly Extension[] | undefined): (string | undefined)[] {
  return (extensions ?? []).flatMap((e) => [e.valueAttachment?.url, ...attachmentUrls(e.extension)]);
}

export interface ReaperOptions {
  /** How long an upload may wait for its Media (a slow case transaction, a client retry). */
  readonly graceMs: number;
  /** How often to look. */
  readonly intervalMs: number;
  readonly onError?: (err: unknown) => void;
}

/**
 * Expunges pending uploads that no Media claimed within the grace period: the originals a crash
 * between upload and case transaction left behind. Deleting a pending Binary expunges it
 * (resource-writer.ts), so this only has to find them: the `binary_pending` table holds exactly
 * the unclaimed ones (a claiming Media removes its row in the same transaction), so each look is
 * one index range, not a scan of every Binary.
 */
export class PendingUploadReaper {
  private readonly selectExpired: StatementSync;
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly store: SqliteStore,
    private readonly deleteBinary: (id: string) => Promise<void>,
    private readonly options: ReaperOptions
  ) {
    this.selectExpired = store.reader.prepare('SELECT id FROM binary_pending WHERE since < ? ORDER BY since LIMIT 100');
  }

  start(): void {
    this.timer = setInterval(() => void this.reapOnce().catch((err: unknown) => this.options.onError?.(err)), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass; resolves to the number of uploads expunged. */
  reapOnce(now = Date.now()): Promise<number> {
    this.running ??= this.reap(new Date(now - this.options.graceMs).toISOString()).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async reap(cutoff: string): Promise<number> {
    let reaped = 0;
    for (;;) {
      const ids = (this.selectExpired.all(cutoff) as unknown as { id: string }[]).map((r) => r.id);
      if (ids.length === 0) {
        return reaped;
      }
      for (const id of ids) {
        try {
          await this.deleteBinary(id);
          reaped++;
        } catch (err) {
          // Already deleted (then its row is gone too) or refused: report, never loop on it.
          this.options.onError?.(err);
          await this.store.coordinator.grouped(() => this.store.writer.prepare('DELETE FROM binary_pending WHERE id = ?').run(id));
        }
      }
      if (ids.length < 100) {
        return reaped;
      }
    }
  }
}
