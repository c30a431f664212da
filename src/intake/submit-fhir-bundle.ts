import type { Binary, Bundle, Media, Patient, QuestionnaireResponse } from '@medplum/fhirtypes';
import type { Request } from 'express';
import { IntakeError } from './intake-error';
import type { PhotoUpload } from './photo-placement';
import { idempotencyKeyOf } from './submit-multipart';
import type { Submission } from './submit-case';

/**
 * `POST /intake/cases` with a FHIR transaction Bundle (application/fhir+json), as an EHR or app
 * that speaks FHIR sends it (fhir-profiles/examples/sample-case.transaction.json): an optional
 * Patient (matched on its identifier), one QuestionnaireResponse whose photo answers point at
 * Binary `fullUrl`s, the Binaries (`data`, base64) and optionally a Media per Binary (its
 * deviceName and createdDateTime are kept). ServiceRequest and Task, if present, are ignored and
 * made by the server, and every Binary goes through the same photo pipeline as a multipart upload.
 */
export function readBundleSubmission(req: Request): Submission {
  const bundle = req.body as Bundle;
  if (bundle?.resourceType !== 'Bundle' || bundle.type !== 'transaction') {
    throw new IntakeError(400, 'transaction-bundle-required', 'Send a FHIR Bundle of type "transaction" (or multipart/form-data).');
  }
  let response: QuestionnaireResponse | undefined;
  let patient: Patient | undefined;
  const binaries = new Map<string, Binary>();
  const mediaByBinary = new Map<string, Media>();
  for (const [i, entry] of (bundle.entry ?? []).entries()) {
    const resource = entry.resource;
    switch (resource?.resourceType) {
      case 'QuestionnaireResponse':
        if (response) throw new IntakeError(422, 'one-response-per-case', 'A case Bundle holds exactly one QuestionnaireResponse.', [{ where: `Bundle.entry[${i}]`, message: 'second response' }]);
        response = resource;
        break;
      case 'Patient':
        patient = resource;
        break;
      case 'Binary':
        if (!entry.fullUrl) throw new IntakeError(422, 'binary-fullurl-required', 'Every Binary needs a fullUrl (urn:uuid) for the photo answers to refer to.', [{ where: `Bundle.entry[${i}].fullUrl`, message: 'required' }]);
        binaries.set(entry.fullUrl, resource);
        break;
      case 'Media':
        if (resource.content?.url) mediaByBinary.set(resource.content.url, resource);
        break;
      case 'ServiceRequest':
      case 'Task':
        break;
      default:
        throw new IntakeError(422, 'unexpected-entry', `A case Bundle may hold Patient, QuestionnaireResponse, Binary and Media entries; entry ${i} is ${resource?.resourceType ?? 'empty'}.`, [{ where: `Bundle.entry[${i}]`, message: 'not allowed' }]);
    }
  }
  if (!response) {
    throw new IntakeError(422, 'questionnaire-response-required', 'The Bundle has no QuestionnaireResponse.');
  }
  const uploads: PhotoUpload[] = [...binaries].map(([fullUrl, binary]) => {
    const media = mediaByBinary.get(fullUrl);
    return {
      ref: fullUrl,
      filename: media?.content?.title ?? fullUrl,
      bytes: Buffer.from(binary.data ?? '', 'base64'),
      deviceName: media?.deviceName,
      takenAt: media?.createdDateTime,
    };
  });
  if (patient && response.subject?.reference?.startsWith('urn:')) {
    response = { ...response, subject: undefined, author: response.author?.reference === response.subject.reference ? undefined : response.author };
  }
  return { response, uploads, patient, idempotencyKey: idempotencyKeyOf(req) };
}
