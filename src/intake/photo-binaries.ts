import type { EncodedImage, ImageKind } from '../images/process-photo';
import { PENDING_UPLOAD_HEADER } from '../fhir/store/pending-uploads';
import type { Caller } from './case-store';
import type { PhotoBinaries, Ref } from './photo-media';

/** A photo's images: done (ProcessedPhoto) or on their way (StagedPhoto.images). */
export type PhotoImages = { readonly [K in ImageKind]: EncodedImage | Promise<EncodedImage> };

/**
 * Each photo's three images (the full-resolution original, the review copy and the thumbnail) as
 * Binaries sent as their own raw bytes (`POST Binary` with the image's Content-Type and
 * `X-Security-Context: Patient/<id>`, MedplumClient.createBinary), not as base64 inside the case's
 * JSON transaction. Base64 made a 3-photo case a ~20 MB JSON document that the client serialised,
 * the store parsed, Medplum's batch processor serialised again (to measure it) and the store
 * decoded back to bytes; and 12 phone photos would not fit a FHIR server's JSON body limit at all.
 * Even the derivatives alone (~1.5 MB as base64 for three photos) were megabyte strings in the
 * server's heap on every case, each pushing it towards a full garbage collection. A real Medplum
 * server keeps Binary content in blob storage the same way.
 *
 * The Binaries are written before the transaction that references them, so they are not part of
 * its atomicity: whoever uploads calls `discard()` when the case is not written after all (the
 * transaction failed, or a concurrent retry's case was matched instead), which deletes them again.
 * Each upload says it is pending (`X-Upload-State: pending`): the embedded store tags it, expunges
 * it, bytes and history, when it is deleted before a Media claims it, and reaps it after a grace
 * period if neither happens (a crash between upload and transaction). See src/intake/README.md for
 * what a real Medplum server does instead.
 */
export class PhotoBinaryUploads {
  private readonly created: string[] = [];

  constructor(
    private readonly caller: Caller,
    private readonly patient: Ref
  ) {}

  /**
   * Uploads every image of every photo, each as soon as it is encoded; their `Binary/<id>`s, in
   * the photos' order. When one upload fails, the others are let finish (so discard() sees them
   * all) and the first error is thrown.
   */
  async uploadAll(photos: readonly PhotoImages[]): Promise<PhotoBinaries[]> {
    const settled = await Promise.allSettled(photos.flatMap((p) => [this.upload(p.original), this.upload(p.review), this.upload(p.thumbnail)]));
    const ids = settled.map((r) => {
      if (r.status === 'rejected') throw r.reason;
      return r.value;
    });
    return photos.map((_, i) => ({ original: ids[3 * i], review: ids[3 * i + 1], thumbnail: ids[3 * i + 2] }));
  }

  /** Starts once the image is there: a photo still being encoded is uploaded image by image. */
  private async upload(image: EncodedImage | Promise<EncodedImage>): Promise<string> {
    const { bytes, contentType } = await image;
    const binary = await this.caller.medplum.createBinary(
      { data: bytes, contentType, securityContext: this.patient },
      { headers: { [PENDING_UPLOAD_HEADER]: 'pending' } }
    );
    this.created.push(binary.id);
    return `Binary/${binary.id}`;
  }

  /** Deletes every Binary uploaded so far; best effort (each failure is reported, none stops the others). */
  async discard(logError: (err: unknown) => void): Promise<void> {
    const ids = this.created.splice(0);
    await Promise.all(ids.map((id) => this.caller.medplum.deleteResource('Binary', id).catch(logError)));
  }
}
