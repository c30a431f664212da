import { businessRule, OperationOutcomeError } from '@medplum/core';
import type { Task } from '@medplum/fhirtypes';
import { ECONSULT_TASK_CODE, PROFILE_URLS } from './canonical-urls';

/**
 * The e-consult queue item's state machine, as data.
 *
 *   draft ──► requested ──► accepted ──► in-progress ⇄ on-hold ──► … ──► completed
 *                │              │             │            │
 *                └─► rejected ◄─┘             │            │
 *   cancelled from any non-terminal state; entered-in-error from every state.
 *
 * Follows the FHIR R4 Task state machine (https://hl7.org/fhir/R4/task.html#statemachine) narrowed
 * to what an e-consult needs: `rejected` only before work starts ("decided not to execute it prior to
 * performing any action"), on-hold only from in-progress (the reviewer is waiting for the patient or
 * the PCP, see Task.businessStatus), completed only from in-progress. `received`, `ready` and
 * `failed` are not part of the e-consult lifecycle and are never reachable.
 */
export type TaskStatus = Task['status'];

export const ECONSULT_TASK_TRANSITIONS: Readonly<Record<TaskStatus, readonly TaskStatus[]>> = {
  draft: ['requested', 'cancelled', 'entered-in-error'],
  requested: ['accepted', 'rejected', 'cancelled', 'entered-in-error'],
  accepted: ['in-progress', 'rejected', 'cancelled', 'entered-in-error'],
  'in-progress': ['on-hold', 'completed', 'cancelled', 'entered-in-error'],
  'on-hold': ['in-progress', 'cancelled', 'entered-in-error'],
  completed: ['entered-in-error'],
  rejected: ['entered-in-error'],
  cancelled: ['entered-in-error'],
  'entered-in-error': [],
  received: [],
  ready: [],
  failed: [],
};

/** Statuses a new e-consult Task may be created in. */
export const ECONSULT_TASK_INITIAL_STATUSES: readonly TaskStatus[] = ['draft', 'requested'];

/** Statuses with no way out except entered-in-error. */
export const ECONSULT_TASK_TERMINAL_STATUSES: readonly TaskStatus[] = [
  'completed',
  'rejected',
  'cancelled',
  'entered-in-error',
];

/** Stable key of the business-rule outcome, for clients that branch on it. */
export const ILLEGAL_TASK_TRANSITION = 'illegal-task-transition';

/** The statuses an e-consult Task in `from` may move to (not counting `from` itself). */
export function allowedNextStatuses(from: TaskStatus): readonly TaskStatus[] {
  return ECONSULT_TASK_TRANSITIONS[from] ?? [];
}

/**
 * True for Tasks this lifecycle governs: those that claim our Task profile in `meta.profile`
 * or carry our `Task.code` (the profile fixes that code, so any conformant Task has it, and
 * clients that do not send meta.profile are still governed). Other Tasks (e.g. Medplum bot
 * or EHR work items) keep the base FHIR rules.
 */
export function isEconsultTask(task: Task | undefined): boolean {
  if (!task) {
    return false;
  }
  // Runs before validation, so the input may be malformed: look only at well-shaped values.
  const profiles: unknown = task.meta?.profile;
  if (Array.isArray(profiles) && profiles.some((p) => typeof p === 'string' && p.split('|')[0] === PROFILE_URLS.econsultTask)) {
    return true;
  }
  const codings: unknown = task.code?.coding;
  return (
    Array.isArray(codings) &&
    codings.some((c) => c?.system === ECONSULT_TASK_CODE.system && c?.code === ECONSULT_TASK_CODE.code)
  );
}

/**
 * Throws a 422 business-rule OperationOutcome when `next` is not a legal successor of `previous`.
 * `previous` is the stored version (undefined on create). Call on every create/update of a Task;
 * Tasks that are not e-consult Tasks (before and after the write) pass untouched.
 */
export function checkTaskTransition(previous: Task | undefined, next: Task): void {
  // Governed if either version is ours: dropping the profile or code must not escape the rules.
  if (!isEconsultTask(previous) && !isEconsultTask(next)) {
    return;
  }
  if (!previous) {
    if (!ECONSULT_TASK_INITIAL_STATUSES.includes(next.status)) {
      throw transitionError(
        `A new e-consult Task must start in ${listStatuses(ECONSULT_TASK_INITIAL_STATUSES)}, not '${next.status}'`
      );
    }
    return;
  }
  if (previous.status === next.status) {
    return;
  }
  const allowed = allowedNextStatuses(previous.status);
  if (!allowed.includes(next.status)) {
    const options = allowed.length > 0 ? listStatuses(allowed) : 'nothing (the status is final)';
    throw transitionError(
      `An e-consult Task cannot move from '${previous.status}' to '${next.status}'; allowed next statuses: ${options}`
    );
  }
}

function transitionError(message: string): OperationOutcomeError {
  // businessRule() sets OperationOutcome.id = 'business-rule', which Medplum's getStatus() maps to 422.
  const outcome = businessRule(ILLEGAL_TASK_TRANSITION, message);
  outcome.issue = outcome.issue.map((issue) => ({ ...issue, diagnostics: message, expression: ['Task.status'] }));
  return new OperationOutcomeError(outcome);
}

function listStatuses(statuses: readonly TaskStatus[]): string {
  return statuses.map((s) => `'${s}'`).join(', ');
}
