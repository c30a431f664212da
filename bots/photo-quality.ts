import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Communication, Reference, Resource, Task } from '@medplum/fhirtypes';
import type { PhotoProblem } from '../src/triage/photo-standards';
import { checkPhotos, retakeMessage } from '../src/triage/photo-standards';
import type { CaseContext } from './lib/case-context';
import { casesFor, loadCase } from './lib/case-context';
import { refOf, updateIfChanged, upsertByIdentifier } from './lib/fhir-writes';

/**
 * Photo-quality follow-up bot. Triggered when a case's photos (Media) change. When they fall short
 * of the photo standards (src/triage/photo-standards.ts), the patient gets a Communication naming
 * each photo to retake and how, and the e-consult Task waits for the patient; when new photos pass,
 * the Task resumes (triage re-runs by its own Media subscription).
 */
export async function handler(medplum: MedplumClient, event: BotEvent<Resource>): Promise<PhotoCheckSummary[]> {
  const summaries: PhotoCheckSummary[] = [];
  for (const sr of await casesFor(medplum, event.input)) {
    const ctx = await loadCase(medplum, sr);
    if (ctx.media.length === 0 || !ctx.task) {
      continue;
    }
    const problems = checkPhotos(ctx.media);
    if (problems.length > 0) {
      await askForRetake(medplum, ctx, problems);
    } else {
      await resume(medplum, ctx.task);
    }
    summaries.push({ caseRef: refOf(sr), problems: problems.map((p) => `${p.code}${p.media ? ` ${p.media}` : ` (${p.site})`}`) });
  }
  return summaries;
}

export interface PhotoCheckSummary {
  readonly caseRef: string;
  readonly problems: string[];
}

const RETAKE_ID_SYSTEM = 'https://dermbridge.example.org/fhir/sid/photo-retake';
const BUSINESS_STATUS_SYSTEM = 'https://dermbridge.example.org/fhir/CodeSystem/econsult-business-status';
const WAITING_REASON = 'Waiting for the patient to retake photos';

async function askForRetake(medplum: MedplumClient, ctx: CaseContext, problems: PhotoProblem[]): Promise<void> {
  const caseRef = refOf(ctx.serviceRequest);
  const patient = ctx.serviceRequest.subject as Reference<never>;
  // One message per distinct set of problems: the same problems never message the patient twice.
  const key = `${caseRef}#${stableHash(problems.map((p) => `${p.code}|${p.media ?? p.site}`).sort().join(';'))}`;
  await upsertByIdentifier<Communication>(
    medplum,
    { system: RETAKE_ID_SYSTEM, value: key },
    (existing) => ({
      resourceType: 'Communication',
      identifier: [{ system: RETAKE_ID_SYSTEM, value: key }],
      status: 'completed',
      category: [{ text: 'Photo retake request' }],
      subject: patient,
      recipient: [patient],
      about: [{ reference: caseRef }],
      basedOn: [{ reference: caseRef }],
      sent: existing?.sent ?? new Date().toISOString(),
      payload: [{ contentString: retakeMessage(problems) }],
    }),
    ['sent']
  );
  const task = ctx.task as Task & { id: string };
  const reason = { text: `${WAITING_REASON}: ${problems.map((p) => p.code).join(', ')}` };
  if (task.status === 'in-progress' || (task.status === 'on-hold' && businessStatusOf(task) === 'awaiting-patient-photos')) {
    await updateIfChanged(medplum, task, {
      ...task,
      status: 'on-hold',
      businessStatus: { coding: [{ system: BUSINESS_STATUS_SYSTEM, code: 'awaiting-patient-photos', display: 'Awaiting patient photos' }] },
      statusReason: reason,
    });
  } else if (task.status === 'requested' || task.status === 'accepted') {
    // The lifecycle has no requested/accepted → on-hold edge (on-hold needs an owner who started
    // work): the queue item keeps its status and says what it is waiting for.
    await updateIfChanged(medplum, task, { ...task, statusReason: reason });
  }
}

async function resume(medplum: MedplumClient, task: Task & { id: string }): Promise<void> {
  const waiting = task.statusReason?.text?.startsWith(WAITING_REASON);
  if (task.status === 'on-hold' && businessStatusOf(task) === 'awaiting-patient-photos') {
    const { statusReason: _dropped, ...rest } = task;
    await updateIfChanged(medplum, task, {
      ...rest,
      status: 'in-progress',
      businessStatus: { coding: [{ system: BUSINESS_STATUS_SYSTEM, code: 'under-review', display: 'Under review' }] },
    });
  } else if (waiting) {
    const { statusReason: _dropped, ...rest } = task;
    await updateIfChanged(medplum, task, rest);
  }
}

function businessStatusOf(task: Task): string | undefined {
  return task.businessStatus?.coding?.find((c) => c.system === BUSINESS_STATUS_SYSTEM)?.code;
}

/** FNV-1a, hex: a short stable key (no crypto module in the bot sandbox). */
function stableHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}
