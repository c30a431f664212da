import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, Observation, Patient, Task } from '@medplum/fhirtypes';
import { seededRandom } from '../../test/support/seeded-random';

/** Deterministic pseudo-random numbers, so every run seeds the same store. */
export const rng = seededRandom;

/**
 * The resources every benchmark sends, shared by the HTTP workloads and the in-process baseline so
 * both do exactly the same FHIR work.
 */
export const MRN_SYSTEM = 'urn:dermbridge:bench:mrn';
export const QUEUE_SYSTEM = 'https://dermbridge.example.org/fhir/NamingSystem/review-queue';
/**
 * Queue items are seeded straight into every status, which the e-consult lifecycle (new Tasks
 * start in `requested`) refuses; a code of their own keeps them out of its scope. The queue query
 * does not filter on code, so what is measured is the same.
 */
export const QUEUE_ITEM_CODE = { system: 'urn:dermbridge:bench:task-code', code: 'queue-item' };

/** Clinics (review queues) the seeded Tasks are spread over; one query reads one clinic's queue. */
export const QUEUE_COUNT = 20;
const TASK_STATUSES = ['requested', 'accepted', 'in-progress', 'on-hold', 'completed'] as const;
const TASK_PRIORITIES = ['routine', 'urgent', 'asap', 'stat'] as const;

export function patient(identifierValue: string): Patient {
  return {
    resourceType: 'Patient',
    identifier: [{ system: MRN_SYSTEM, value: identifierValue }],
    name: [{ family: 'Bench', given: ['Pat', identifierValue] }],
    gender: 'female',
    birthDate: '1980-04-12',
    telecom: [{ system: 'email', value: `${identifierValue}@bench.example.org` }],
  };
}

/** The identifier of the i-th seeded Patient (what read / identifier search look for). */
export function seededMrn(i: number): string {
  return `seed-${i}`;
}

/** The i-th queue Task: queue, status, priority and due date drawn independently. */
export function queueTask(i: number, patientIds: readonly string[], random: () => number): Task {
  const queue = Math.floor(random() * QUEUE_COUNT);
  const due = new Date(Date.UTC(2026, 0, 1) + Math.floor(random() * 180 * 86_400_000));
  const task: Task = {
    resourceType: 'Task',
    identifier: [
      { system: QUEUE_SYSTEM, value: queueName(queue) },
      { system: 'urn:dermbridge:bench:task', value: `task-${i}` },
    ],
    status: TASK_STATUSES[Math.floor(random() * TASK_STATUSES.length)],
    intent: 'order',
    priority: TASK_PRIORITIES[Math.floor(random() * TASK_PRIORITIES.length)],
    code: { coding: [QUEUE_ITEM_CODE] },
    authoredOn: new Date(due.getTime() - 7 * 86_400_000).toISOString(),
    restriction: { period: { end: due.toISOString() } },
  };
  if (patientIds.length) {
    task.for = { reference: `Patient/${patientIds[i % patientIds.length]}` };
  }
  return task;
}

export function queueName(queue: number): string {
  return `clinic-${queue}`;
}

/**
 * The reviewer's work list: one clinic's open Tasks of elevated priority, most urgent first, then
 * by due date, one page of 50.
 */
export function queueQuery(queue: number): string {
  return (
    `Task?identifier=${encodeURIComponent(`${QUEUE_SYSTEM}|${queueName(queue % QUEUE_COUNT)}`)}` +
    '&status=requested,accepted,in-progress&priority=urgent,asap,stat&_sort=-priority-order,due-date&_count=50'
  );
}

/** A 10-entry transaction: one new Patient and nine Observations that reference it by urn:uuid. */
export function transactionBundle(tag: string): Bundle {
  const patientUrl = `urn:uuid:${randomUUID()}`;
  const entry: BundleEntry[] = [{ fullUrl: patientUrl, request: { method: 'POST', url: 'Patient' }, resource: patient(`tx-${tag}`) }];
  for (let k = 0; k < 9; k++) {
    entry.push({ request: { method: 'POST', url: 'Observation' }, resource: observation(patientUrl, k) });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** A batch of `size` Observations about existing Patients (independent entries, as an ingest feed sends). */
export function ingestBundle(size: number, patientIds: readonly string[], offset: number): Bundle {
  const entry: BundleEntry[] = [];
  for (let k = 0; k < size; k++) {
    const subject = patientIds.length ? `Patient/${patientIds[(offset + k) % patientIds.length]}` : undefined;
    entry.push({ request: { method: 'POST', url: 'Observation' }, resource: observation(subject, k) });
  }
  return { resourceType: 'Bundle', type: 'batch', entry };
}

/** A transaction of new resources (seeding). */
export function createTransaction(resources: readonly (Patient | Task)[]): Bundle {
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: resources.map((resource) => ({ request: { method: 'POST', url: resource.resourceType }, resource })),
  };
}

function observation(subject: string | undefined, k: number): Observation {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8302-2', display: 'Body height' }] },
    ...(subject ? { subject: { reference: subject } } : {}),
    effectiveDateTime: '2026-03-01T10:00:00Z',
    valueQuantity: { value: 160 + k, unit: 'cm', system: 'http://unitsofmeasure.org', code: 'cm' },
  };
}
