import type { Request } from 'express';
import { inspectPhotoOffThread } from '../images/photo-thread';
import type { IntakeDeps } from './intake-deps';
import { IntakeError } from './intake-error';

/**
 * `POST /intake/photo-check` with the image as the body (any Content-Type): the same checks and
 * quality metrics as a submission, nothing stored. The intake page calls it as soon as a photo is
 * chosen, so the patient can retake a blurred or dark photo before sending the case.
 */
export async function checkPhoto(deps: IntakeDeps, req: Request): Promise<Record<string, unknown>> {
  const bytes = req.body;
  if (!Buffer.isBuffer(bytes)) {
    throw new IntakeError(400, 'photo-required', 'Send the image bytes as the request body.');
  }
  const { sourceType, quality } = await inspectPhotoOffThread(bytes, deps.photoLimits);
  return { acceptable: quality.issues.length === 0, sourceType, ...quality };
}
