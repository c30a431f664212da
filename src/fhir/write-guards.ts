import type { Binary, Resource, Task } from '@medplum/fhirtypes';
import type { OffThreadGuard } from './store/bulk-prepare';
import { checkTaskTransition } from '../cases/task-lifecycle';
import type { WriteGuard } from './store/sqlite-store';
import type { ResourceValidator } from './validation';

/** Structure, required bindings and claimed profiles, on every write (400 naming the element). */
export function validationGuard(validator: ResourceValidator): OffThreadGuard {
  const guard = (next: Resource): void => {
    // A photo's base64 can be tens of MB; its format is checked when it is decoded to bytes.
    const target = next.resourceType === 'Binary' && (next as Binary).data ? { ...next, data: undefined } : next;
    validator.validate(target);
  };
  // The bulk path may run the same validation on worker threads, each with its own validator.
  return Object.assign(guard, { offThread: validator.options });
}

/** The e-consult Task state machine (422 naming the allowed next states), whoever writes the Task. */
export const taskLifecycleGuard: WriteGuard = (next, previous) => {
  if (next.resourceType === 'Task') {
    checkTaskTransition(previous as Task | undefined, next as Task);
  }
};
