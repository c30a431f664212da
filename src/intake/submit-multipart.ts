import type { Patient, QuestionnaireResponse, Reference } from '@medplum/fhirtypes';
import type { Request } from 'express';
import { processPhotoStaged, type StagedPhoto } from '../images/photo-thread';
import type { IntakeDeps } from './intake-deps';
import { IntakeError } from './intake-error';
import { readMultipart, type MultipartBody } from './multipart-upload';
import type { PhotoUpload } from './photo-placement';
import type { Submission } from './submit-case';

/**
 * `POST /intake/cases`, multipart/form-data:
 * - `questionnaireResponse`: the QuestionnaireResponse JSON; each photo answer's
 *   `valueAttachment.url` is `cid:<name of the file part>`;
 * - `patient` (clinician and system callers): a Patient with an identifier, or `{"reference":"Patient/<id>"}`;
 * - one file part per photo; optional fields `<part>.deviceName`, `<part>.takenAt` (ISO date-time).
 */
export async function readMultipartSubmission(req: Request, deps: IntakeDeps): Promise<Submission> {
  // Each photo goes into the pipeline the moment its part has arrived, not once the whole body
  // has: on a 12 MB case the first photo starts while the last is still on the wire. Nothing is
  // written before submitCase has checked everything, so a refused submission only cost CPU.
  const started = new Map<string, StagedPhoto>();
  const body = await readMultipart(req, { maxFileBytes: deps.photoLimits.maxBytes, maxFiles: deps.maxPhotos, maxFieldBytes: 2 * 1024 * 1024 }, (file) => {
    if (!JSON_PARTS.has(file.field) && file.bytes.length > 0 && file.bytes.length <= deps.photoLimits.maxBytes) {
      started.set(file.field, processPhotoStaged(file.bytes, deps.photoLimits));
    }
  });
  return {
    response: jsonField<QuestionnaireResponse>(body, 'questionnaireResponse', true) as QuestionnaireResponse,
    patient: jsonField<Patient | Reference>(body, 'patient', false),
    uploads: uploadsOf(body, started),
    idempotencyKey: idempotencyKeyOf(req),
  };
}

/** Parts that carry JSON, not photos. */
const JSON_PARTS = new Set(['questionnaireResponse', 'patient']);

export function uploadsOf(body: MultipartBody, started: ReadonlyMap<string, StagedPhoto> = new Map()): PhotoUpload[] {
  const seen = new Set<string>();
  return body.files.map((f) => {
    if (seen.has(f.field)) {
      throw new IntakeError(400, 'duplicate-part-name', `Two photo parts are named '${f.field}'; give every photo part its own name.`, [{ where: f.field, message: 'duplicate' }]);
    }
    seen.add(f.field);
    const takenAt = body.fields.get(`${f.field}.takenAt`);
    if (takenAt && Number.isNaN(Date.parse(takenAt))) {
      throw new IntakeError(400, 'invalid-taken-at', `'${f.field}.takenAt' is not an ISO date-time.`, [{ where: `${f.field}.takenAt`, message: 'invalid' }]);
    }
    return {
      ref: `cid:${f.field}`,
      filename: f.filename,
      bytes: f.bytes,
      deviceName: body.fields.get(`${f.field}.deviceName`)?.slice(0, 200),
      takenAt: takenAt ? new Date(takenAt).toISOString() : undefined,
      staged: started.get(f.field),
    };
  });
}

export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get('Idempotency-Key');
  if (key !== undefined && !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new IntakeError(400, 'invalid-idempotency-key', 'Idempotency-Key must be 1-255 visible ASCII characters (e.g. a UUID).');
  }
  return key;
}

function jsonField<T>(body: MultipartBody, name: string, required: boolean): T | undefined {
  const fromField = body.fields.get(name);
  const fromFile = body.files.find((f) => f.field === name);
  const text = fromField ?? fromFile?.bytes.toString('utf8');
  if (fromFile) {
    (body.files as unknown[]).splice(body.files.indexOf(fromFile), 1);
  }
  if (text === undefined) {
    if (required) {
      throw new IntakeError(400, `${name === 'questionnaireResponse' ? 'questionnaire-response' : name}-required`, `The multipart body needs a '${name}' part (JSON).`);
    }
    return undefined;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new IntakeError(400, 'invalid-json', `The '${name}' part is not valid JSON.`, [{ where: name, message: 'invalid JSON' }]);
  }
}
