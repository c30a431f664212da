import type { BotEvent, MedplumClient } from '@medplum/core';
import type { Flag, Reference, Task } from '@medplum/fhirtypes';
import type { RequestPriority } from '../src/triage/case-priority';
import { SLA_ESCALATED_TAG, escalate } from '../src/triage/case-priority';
import { updateIfChanged, upsertByIdentifier } from './lib/fhir-writes';

/**
 * SLA escalation bot (scheduled; Medplum: Bot cronString). Every open e-consult Task past its due
 * date (`restriction.period.end`; Medplum's `due-date` search parameter) is escalated once: priority one step up (routine → urgent →
 * asap → stat), tagged so triage never lowers it again, and an active Flag on the patient says
 * the review is overdue. A Task already escalated, or not overdue, is left alone (idempotent).
 */
export async function handler(medplum: MedplumClient, event: BotEvent<{ now?: string }>): Promise<SlaSummary> {
  const now = event.input?.now ? new Date(event.input.now) : new Date();
  const escalated: string[] = [];
  let checked = 0;
  // Only what is overdue and not yet escalated, a page at a time, asking again from the start
  // until a page is not full: escalated Tasks leave the result, so offsets would skip some. It
  // used to read every open Task (up to 1,000, the rest never looked at) in one request and filter
  // here: seconds of synchronous store work every five minutes in a busy clinic.
  for (;;) {
    const page = (await medplum.searchResources('Task', {
      code: `${CASE_TYPE_SYSTEM}|econsult-review`,
      status: 'requested,accepted,in-progress,on-hold',
      'due-date': `eb${now.toISOString()}`,
      '_tag:not': `${SLA_ESCALATED_TAG.system}|${SLA_ESCALATED_TAG.code}`,
      _sort: 'due-date',
      _count: String(PAGE),
    })) as (Task & { id: string })[];
    checked += page.length;
    let progressed = false;
    for (const task of page) {
      // Checked here too: what the search matched must really be due and not escalated.
      const due = task.restriction?.period?.end;
      if (!due || new Date(due).getTime() > now.getTime() || isEscalated(task)) {
        continue;
      }
      await escalateTask(medplum, task, now);
      escalated.push(`Task/${task.id}`);
      progressed = true;
    }
    if (page.length < PAGE || !progressed) {
      return { checked, escalated };
    }
  }
}

/** Tasks per search: small enough that no one request holds the store for long. */
const PAGE = 100;

export interface SlaSummary {
  readonly checked: number;
  readonly escalated: string[];
}

const CASE_TYPE_SYSTEM = 'https://dermbridge.example.org/fhir/CodeSystem/derm-case-type';
const FLAG_ID_SYSTEM = 'https://dermbridge.example.org/fhir/sid/sla-flag';

function isEscalated(task: Task): boolean {
  return (task.meta?.tag ?? []).some((t) => t.system === SLA_ESCALATED_TAG.system && t.code === SLA_ESCALATED_TAG.code);
}

async function escalateTask(medplum: MedplumClient, task: Task & { id: string }, now: Date): Promise<void> {
  const due = task.restriction?.period?.end as string;
  await upsertByIdentifier<Flag>(medplum, { system: FLAG_ID_SYSTEM, value: `Task/${task.id}` }, () => ({
    resourceType: 'Flag',
    identifier: [{ system: FLAG_ID_SYSTEM, value: `Task/${task.id}` }],
    status: 'active',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/flag-category', code: 'admin', display: 'Administrative' }] }],
    code: { text: `E-consult review overdue (due ${due}); escalated from ${task.priority ?? 'routine'}` },
    subject: task.for as Reference<never>,
    period: { start: now.toISOString() },
  }));
  await updateIfChanged(medplum, task, {
    ...task,
    meta: { ...task.meta, tag: [...(task.meta?.tag ?? []), { ...SLA_ESCALATED_TAG }] },
    priority: escalate(task.priority as RequestPriority | undefined),
  });
}
