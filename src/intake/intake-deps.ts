import type { Questionnaire, ValueSet } from '@medplum/fhirtypes';
import type { RequestHandler } from 'express';
import type { PhotoLimits } from '../images/process-photo';
import type { StoreCapabilities } from './case-transaction';

/** What the intake routes need, built once in app.ts from config and the conformance resources. */
export interface IntakeDeps {
  /** The case store's base URL (the embedded server or a real Medplum), from storeConnection(config). */
  readonly storeBaseUrl: string;
  readonly bearer: RequestHandler;
  /** Questionnaires a case may answer, by canonical URL (derm-intake, derm-econsult). */
  readonly questionnaires: ReadonlyMap<string, Questionnaire>;
  /** Our ValueSets by URL (answerValueSet checks, body-site displays, the form's choices). */
  readonly valueSets: ReadonlyMap<string, ValueSet>;
  readonly photoLimits: PhotoLimits;
  /** Most photos in one request. */
  readonly maxPhotos: number;
  readonly logError: (err: unknown) => void;
  /** What the store accepts in a transaction; learned at run time (case-transaction.ts). */
  readonly capabilities: StoreCapabilities;
  /** fetch for the MedplumClient (tests: a store that behaves like a real Medplum server). */
  readonly fetch?: typeof fetch;
}
