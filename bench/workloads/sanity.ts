import type { Bundle, Resource, Task } from '@medplum/fhirtypes';
import type { FhirHttp } from '../http-client';
import type { HttpWorkload } from './http-workloads';

const PRIORITY_ORDER: Record<string, number> = { stat: 50, asap: 40, urgent: 30, routine: 20 };

/**
 * Sends one request of a workload before it is measured and checks the answer means what the
 * benchmark claims: bundles fully applied, identifier search finds exactly one Patient, the queue
 * page is non-empty, filtered and in priority / due-date order. A benchmark of wrong answers is no
 * benchmark.
 */
export async function checkWorkload(http: FhirHttp, workload: HttpWorkload): Promise<void> {
  const { spec } = workload;
  const { path, body } = spec.next ? spec.next() : { path: spec.path ?? '', body: undefined };
  const result = await http.request<Resource>(spec.method, path, body);
  const fail = (why: string): never => {
    throw new Error(`sanity check of "${workload.key}" failed (${spec.method} ${path}): ${why}`);
  };
  switch (workload.key) {
    case 'read':
    case 'create':
      if (result.resourceType !== 'Patient' || !result.id) {
        fail(`expected a Patient, got ${result.resourceType}`);
      }
      break;
    case 'search': {
      const n = (result as Bundle).entry?.length ?? 0;
      if (n !== 1) {
        fail(`expected exactly 1 match, got ${n}`);
      }
      break;
    }
    case 'transaction':
    case 'batch': {
      const bad = ((result as Bundle).entry ?? []).filter((e) => !e.response?.status?.startsWith('2'));
      if (bad.length) {
        fail(`${bad.length} entries not 2xx, e.g. ${JSON.stringify(bad[0].response)}`);
      }
      break;
    }
    case 'queue': {
      const tasks = ((result as Bundle).entry ?? []).map((e) => e.resource as Task);
      if (tasks.length === 0) {
        fail('empty page');
      }
      for (let i = 0; i < tasks.length; i++) {
        const t = tasks[i];
        if (!['requested', 'accepted', 'in-progress'].includes(t.status) || !['urgent', 'asap', 'stat'].includes(t.priority ?? '')) {
          fail(`Task/${t.id} does not match the filters (status ${t.status}, priority ${t.priority})`);
        }
        if (i > 0 && compareQueue(tasks[i - 1], t) > 0) {
          fail(`page not sorted at ${i}: ${tasks[i - 1].priority}/${dueOf(tasks[i - 1])} before ${t.priority}/${dueOf(t)}`);
        }
      }
      break;
    }
  }
}

function dueOf(t: Task): string {
  return t.restriction?.period?.end ?? '';
}

function compareQueue(a: Task, b: Task): number {
  const byPriority = (PRIORITY_ORDER[b.priority ?? ''] ?? 10) - (PRIORITY_ORDER[a.priority ?? ''] ?? 10);
  return byPriority !== 0 ? byPriority : dueOf(a).localeCompare(dueOf(b));
}
