import type { ProcessedPhoto } from '../images/process-photo';
import { PENDING_UPLOAD_HEADER } from '../fhir/store/pending-uploads';
import type { Caller } from './case-store';
import type { Ref } from './photo-media';

/**
 * The full-resolution original of each photo as a Binary sent as its own raw bytes (`POST Binary`
 * with the image's Content-Type and `X-Security-Context: Patient/<id>`, MedplumClient.createBinary),
 * not as base64 inside the case's JSON transaction. Base64 made a 3-photo case a ~20 MB JSON
 * document that the client serialised, the store parsed, Medplum's batch processor serialised again
 * (to measure it) and the store decoded back to bytes; and 12 phone photos would not fit a FHIR
 * server's JSON body limit at all. A real Medplum server keeps Binary content in blob storage the
 * same way. The review copy and the thumbnail (a tenth of the bytes) stay in the transaction: a
 * request (and an audit record) less each, and atomic with the case.
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

  /** Uploads the photo's original: its `Binary/<id>`. */
  async upload(photo: ProcessedPhoto): Promise<string> {
    const { bytes, contentType } = photo.original;
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
