import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Bundle, QuestionnaireResponse, Resource, Task } from '@medplum/fhirtypes';
import { QUESTIONNAIRE_URLS } from '../src/cases/canonical-urls';
import { isEconsult, loadCase } from './lib/case-context';
import { updateFromVersion } from './lib/fhir-writes';
import { buildReviewResults } from './lib/review-results';

/**
 * Disposition bot. Triggered by a completed derm-review QuestionnaireResponse (basedOn the
 * e-consult ServiceRequest). Records the review's results in ONE transaction (DiagnosticReport,
 * MedicationRequests, CarePlan + follow-up Task, referral, patient Communication and PCP answer,
 * Provenance naming the reviewer, the e-consult Task completed); see bots/lib/review-results.ts.
 */
export async function handler(medplum: MedplumClient, event: BotEvent<Resource>): Promise<DispositionSummary | undefined> {
  const review = event.input;
  if (review.resourceType !== 'QuestionnaireResponse' || !isReview(review) || review.status !== 'completed') {
    return undefined;
  }
  const srId = (review.basedOn ?? []).map((r) => /^ServiceRequest\/([^/]+)$/.exec(r.reference ?? '')?.[1]).find(Boolean);
  if (!srId) {
    throw new Error(`Review QuestionnaireResponse/${review.id} must be basedOn the e-consult ServiceRequest`);
  }
  const sr = await medplum.readResource('ServiceRequest', srId);
  if (!isEconsult(sr)) {
    throw new Error(`ServiceRequest/${srId} is not a dermbridge e-consult`);
  }
  const ctx = await loadCase(medplum, sr);
  if (ctx.task?.status === 'on-hold') {
    // Answered question or retaken photos: the reviewer is working on it again (on-hold → in-progress
    // is the only way on; the transaction below cannot hold two versions of the Task).
    await resumeTask(medplum, ctx.task);
  }
  const { bundle, completesTask } = buildReviewResults(review as QuestionnaireResponse & { id: string }, await loadCase(medplum, sr));
  const result = await medplum.executeBatch(bundle);
  return { review: `QuestionnaireResponse/${review.id}`, completesTask, locations: locationsOf(result) };
}

export interface DispositionSummary {
  readonly review: string;
  readonly completesTask: boolean;
  readonly locations: string[];
}

function isReview(qr: QuestionnaireResponse): boolean {
  return (qr.questionnaire ?? '').split('|')[0] === QUESTIONNAIRE_URLS.review;
}

async function resumeTask(medplum: MedplumClient, task: Task & { id: string }): Promise<void> {
  await updateFromVersion<Task>(medplum, task, {
    ...task,
    status: 'in-progress',
    businessStatus: { coding: [{ system: 'https://dermbridge.example.org/fhir/CodeSystem/econsult-business-status', code: 'under-review', display: 'Under review' }] },
  });
}

function locationsOf(result: Bundle): string[] {
  return (result.entry ?? []).map((e) => e.response?.location ?? '').filter(Boolean);
}
