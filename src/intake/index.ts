import type { Questionnaire } from '@medplum/fhirtypes';
import type { RequestHandler, Router } from 'express';
import type { Logger } from 'pino';
import { storeConnection } from '../client/store-client';
import type { Config } from '../config/config';
import type { ResourceValidator } from '../fhir/validation';
import { DEFAULT_PHOTO_LIMITS } from '../images/process-photo';
import type { IntakeDeps } from './intake-deps';
import { createIntakeRoutes } from './routes';

export { createIntakeRoutes } from './routes';
export type { IntakeDeps } from './intake-deps';

/** Most photos in one request: 3 sites × (overview + 2 close-ups + 1 dermoscopic). */
export const MAX_PHOTOS_PER_REQUEST = 12;

export interface IntakeParts {
  readonly config: Config;
  readonly bearer: RequestHandler;
  readonly validator: ResourceValidator;
  readonly logger: Logger;
}

/** The `/intake` router from the app's parts (the one line app.ts needs). */
export function createIntake(parts: IntakeParts): Router {
  return createIntakeRoutes(intakeDepsFrom(parts));
}

export function intakeDepsFrom(parts: IntakeParts): IntakeDeps {
  const { conformance } = parts.validator;
  const questionnaires = new Map(
    conformance.others.filter((r): r is Questionnaire => r.resourceType === 'Questionnaire' && !!r.url).map((q) => [q.url as string, q])
  );
  const valueSets = new Map(conformance.valueSets.filter((vs) => vs.url).map((vs) => [vs.url as string, vs]));
  return {
    storeBaseUrl: storeConnection(parts.config).baseUrl,
    bearer: parts.bearer,
    questionnaires,
    valueSets,
    photoLimits: { ...DEFAULT_PHOTO_LIMITS, maxBytes: Math.min(DEFAULT_PHOTO_LIMITS.maxBytes, parts.config.maxBodyBytes) },
    maxPhotos: MAX_PHOTOS_PER_REQUEST,
    logError: (err) => parts.logger.error({ err }, 'unhandled error in intake request'),
    capabilities: {},
  };
}
