/** Queue ordering and filters, free of the DOM (the order is a clinical safety property). */
const PRIORITY_RANK = { stat: 0, asap: 1, urgent: 2, routine: 3 };

export const dueDate = (task) => task.restriction?.period?.end;

export function isOverdue(task, now = Date.now()) {
  const due = dueDate(task);
  return due !== undefined && Date.parse(due) < now;
}

export function businessStatus(task) {
  return task.businessStatus?.coding?.[0]?.code;
}

/** Priority first (stat, asap, urgent, routine), then the earliest due date, then the oldest. */
export function sortQueue(items) {
  return [...items].sort((a, b) => {
    const p = (PRIORITY_RANK[a.task.priority] ?? 9) - (PRIORITY_RANK[b.task.priority] ?? 9);
    if (p !== 0) return p;
    const da = dueDate(a.task) ?? '9999';
    const db = dueDate(b.task) ?? '9999';
    return da.localeCompare(db) || String(a.task.authoredOn).localeCompare(String(b.task.authoredOn));
  });
}

export const FILTERS = {
  all: { label: 'All open', test: () => true },
  mine: { label: 'Mine', test: (task, user) => task.owner?.reference === user },
  unassigned: { label: 'Unassigned', test: (task) => !task.owner },
  waiting: { label: 'Waiting on patient', test: (task) => task.status === 'on-hold' && /^awaiting-patient/.test(businessStatus(task) ?? '') },
};
