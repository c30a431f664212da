import assert from 'node:assert/strict';
import { getStatus, OperationOutcomeError } from '@medplum/core';
import type { Task } from '@medplum/fhirtypes';
import { ECONSULT_TASK_CODE, PROFILE_URLS } from '../../src/cases/canonical-urls';
import {
  allowedNextStatuses,
  checkTaskTransition,
  ECONSULT_TASK_TERMINAL_STATUSES,
  ECONSULT_TASK_TRANSITIONS,
  isEconsultTask,
  type TaskStatus,
} from '../../src/cases/task-lifecycle';

function econsultTask(status: TaskStatus): Task {
  return { resourceType: 'Task', status, intent: 'order', code: { coding: [{ ...ECONSULT_TASK_CODE }] } };
}

function catchOutcome(fn: () => void): OperationOutcomeError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof OperationOutcomeError, 'expected an OperationOutcomeError');
    return err;
  }
  assert.fail('expected the transition to be rejected');
}

const ALL_STATUSES = Object.keys(ECONSULT_TASK_TRANSITIONS) as TaskStatus[];

describe('src/cases/task-lifecycle', () => {
  describe('allowedNextStatuses', () => {
    it('walks the happy path requested → accepted → in-progress → completed', () => {
      assert.ok(allowedNextStatuses('requested').includes('accepted'));
      assert.ok(allowedNextStatuses('accepted').includes('in-progress'));
      assert.ok(allowedNextStatuses('in-progress').includes('completed'));
    });

    it('lets in-progress and on-hold alternate', () => {
      assert.ok(allowedNextStatuses('in-progress').includes('on-hold'));
      assert.ok(allowedNextStatuses('on-hold').includes('in-progress'));
    });

    it('offers only entered-in-error from a terminal status', () => {
      for (const terminal of ECONSULT_TASK_TERMINAL_STATUSES.filter((s) => s !== 'entered-in-error')) {
        assert.deepEqual(allowedNextStatuses(terminal), ['entered-in-error']);
      }
      assert.deepEqual(allowedNextStatuses('entered-in-error'), []);
    });

    it('offers entered-in-error from every status except itself', () => {
      for (const status of ALL_STATUSES.filter((s) => !['entered-in-error', 'received', 'ready', 'failed'].includes(s))) {
        assert.ok(allowedNextStatuses(status).includes('entered-in-error'), status);
      }
    });

    it('allows rejection only before work starts', () => {
      const rejecting = ALL_STATUSES.filter((s) => allowedNextStatuses(s).includes('rejected'));
      assert.deepEqual(rejecting.sort(), ['accepted', 'requested']);
    });

    it('never leads into received, ready or failed', () => {
      for (const status of ALL_STATUSES) {
        for (const unused of ['received', 'ready', 'failed'] as const) {
          assert.ok(!allowedNextStatuses(status).includes(unused), `${status} → ${unused}`);
        }
      }
    });
  });

  describe('isEconsultTask', () => {
    it('recognises a Task by its code', () => {
      assert.equal(isEconsultTask(econsultTask('requested')), true);
    });

    it('recognises a Task by meta.profile, with or without a version', () => {
      const task: Task = { resourceType: 'Task', status: 'requested', intent: 'order' };
      assert.equal(isEconsultTask({ ...task, meta: { profile: [PROFILE_URLS.econsultTask] } }), true);
      assert.equal(isEconsultTask({ ...task, meta: { profile: [`${PROFILE_URLS.econsultTask}|0.1.0`] } }), true);
    });

    it('ignores other Tasks', () => {
      assert.equal(isEconsultTask({ resourceType: 'Task', status: 'requested', intent: 'order' }), false);
      assert.equal(isEconsultTask(undefined), false);
    });
  });

  describe('checkTaskTransition', () => {
    it('accepts every transition listed in the table', () => {
      for (const from of ALL_STATUSES) {
        for (const to of allowedNextStatuses(from)) {
          checkTaskTransition(econsultTask(from), econsultTask(to));
        }
      }
    });

    it('always accepts an unchanged status', () => {
      for (const status of ALL_STATUSES) {
        checkTaskTransition(econsultTask(status), econsultTask(status));
      }
    });

    it('accepts a new Task in requested or draft', () => {
      checkTaskTransition(undefined, econsultTask('requested'));
      checkTaskTransition(undefined, econsultTask('draft'));
    });

    it('rejects a new Task that starts in in-progress', () => {
      const err = catchOutcome(() => checkTaskTransition(undefined, econsultTask('in-progress')));
      assert.match(err.outcome.issue[0].diagnostics ?? '', /must start in 'draft', 'requested'/);
    });

    it('rejects requested → completed with a 422 business-rule outcome naming the allowed next statuses', () => {
      const err = catchOutcome(() => checkTaskTransition(econsultTask('requested'), econsultTask('completed')));
      assert.equal(getStatus(err.outcome), 422);
      const issue = err.outcome.issue[0];
      assert.equal(issue.severity, 'error');
      assert.equal(issue.code, 'business-rule');
      assert.deepEqual(issue.expression, ['Task.status']);
      assert.equal(
        issue.diagnostics,
        "An e-consult Task cannot move from 'requested' to 'completed'; allowed next statuses: " +
          "'accepted', 'rejected', 'cancelled', 'entered-in-error'"
      );
      assert.equal(issue.details?.text, issue.diagnostics);
    });

    it('rejects leaving a terminal status other than to entered-in-error', () => {
      const err = catchOutcome(() => checkTaskTransition(econsultTask('completed'), econsultTask('in-progress')));
      assert.match(err.outcome.issue[0].diagnostics ?? '', /allowed next statuses: 'entered-in-error'/);
    });

    it('says the status is final when leaving entered-in-error', () => {
      const err = catchOutcome(() => checkTaskTransition(econsultTask('entered-in-error'), econsultTask('requested')));
      assert.match(err.outcome.issue[0].diagnostics ?? '', /the status is final/);
    });

    it('rejects every transition not in the table', () => {
      let rejected = 0;
      for (const from of ALL_STATUSES) {
        for (const to of ALL_STATUSES) {
          if (from === to || allowedNextStatuses(from).includes(to)) {
            continue;
          }
          catchOutcome(() => checkTaskTransition(econsultTask(from), econsultTask(to)));
          rejected++;
        }
      }
      assert.ok(rejected > 100);
    });

    it('still governs a Task whose update drops the e-consult code', () => {
      const stripped: Task = { resourceType: 'Task', status: 'completed', intent: 'order' };
      catchOutcome(() => checkTaskTransition(econsultTask('requested'), stripped));
    });

    it('leaves non-e-consult Tasks alone', () => {
      const other = (status: TaskStatus): Task => ({ resourceType: 'Task', status, intent: 'order' });
      checkTaskTransition(undefined, other('in-progress'));
      checkTaskTransition(other('completed'), other('requested'));
    });
  });
});
