import type { TriagePriority } from './rules';
import { DUE_AFTER_HOURS } from './rules';

/** FHIR request priorities, lowest first (http://hl7.org/fhir/request-priority). */
export const REQUEST_PRIORITY_ORDER = ['routine', 'urgent', 'asap', 'stat'] as const;
export type RequestPriority = (typeof REQUEST_PRIORITY_ORDER)[number];

export function higherPriority(a: RequestPriority | undefined, b: RequestPriority): RequestPriority {
  return a && REQUEST_PRIORITY_ORDER.indexOf(a) > REQUEST_PRIORITY_ORDER.indexOf(b) ? a : b;
}

/** One step up (SLA escalation); `stat` stays `stat`. */
export function escalate(p: RequestPriority | undefined): RequestPriority {
  const i = REQUEST_PRIORITY_ORDER.indexOf(p ?? 'routine');
  return REQUEST_PRIORITY_ORDER[Math.min(i + 1, REQUEST_PRIORITY_ORDER.length - 1)];
}

/** The review due date: the case's authored time plus the priority's window. */
export function dueDate(authoredOn: string, priority: TriagePriority): string {
  return new Date(new Date(authoredOn).getTime() + DUE_AFTER_HOURS[priority] * 3600_000).toISOString();
}

/** Meta tag the SLA bot puts on an escalated Task: triage must not lower its priority again. */
export const SLA_ESCALATED_TAG = { system: 'https://dermbridge.example.org/fhir/CodeSystem/case-tags', code: 'sla-escalated' } as const;
