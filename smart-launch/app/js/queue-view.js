/** The reviewer's queue: sorted, filterable, j/k to move, Enter to open, 1-4 for the filters. */
import { formatDate, h, humanName, show } from './dom.js';
import { businessStatus, dueDate, FILTERS, isOverdue, sortQueue } from './queue-model.js';
import { loadQueue } from './sources.js';

let filter = 'all';

export async function renderQueue(app) {
  show(h('p', { className: 'loading', role: 'status' }, 'Loading the queue…'));
  const items = sortQueue(await loadQueue(app.sources, app.casePatientIds));
  let selected = 0;
  const visible = () => items.filter(({ task }) => FILTERS[filter].test(task, app.sources.fhirUser));

  const draw = () => {
    const rows = visible();
    selected = Math.min(selected, Math.max(rows.length - 1, 0));
    const filterBar = h(
      'div',
      { className: 'filters', role: 'toolbar', 'aria-label': 'Queue filters' },
      Object.entries(FILTERS).map(([key, f], i) =>
        h('button', { type: 'button', className: key === filter ? 'active' : '', 'aria-pressed': String(key === filter), dataset: { filter: key }, onclick: () => { filter = key; draw(); } }, `${f.label} `, h('kbd', {}, String(i + 1))),
      ),
    );
    const scope = app.contextPatient
      ? h('p', { className: 'scope' }, `Cases for ${humanName(app.contextPatient)} only. `, h('a', { href: '#/queue/all' }, 'Show the whole queue'))
      : null;
    const table = h(
      'table',
      { className: 'queue', id: 'queue' },
      h('thead', {}, h('tr', {}, ['Priority', 'Patient', 'Concern', 'Submitted', 'Due', 'Status', 'Owner'].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        rows.map(({ task, patient }, i) =>
          h(
            'tr',
            { className: [i === selected ? 'selected' : '', isOverdue(task) ? 'overdue' : ''].join(' '), dataset: { taskId: task.id, priority: task.priority, due: dueDate(task) ?? '' }, 'aria-selected': String(i === selected), onclick: () => open(task) },
            h('td', {}, h('span', { className: `badge priority-${task.priority}` }, task.priority)),
            h('td', {}, patient ? humanName(patient) : task.for?.reference),
            h('td', {}, task.description ?? ''),
            h('td', {}, formatDate(task.authoredOn)),
            h('td', {}, formatDate(dueDate(task)), isOverdue(task) ? h('span', { className: 'badge overdue-badge' }, 'overdue') : null),
            h('td', {}, businessStatus(task) ?? task.status),
            h('td', {}, task.owner?.reference === app.sources.fhirUser ? 'me' : task.owner?.display ?? (task.owner ? task.owner.reference : '—')),
          ),
        ),
      ),
    );
    const empty = rows.length === 0 ? h('p', { className: 'empty' }, 'No cases match this filter.') : null;
    show(h('h1', {}, 'E-consult queue'), scope, filterBar, table, empty, h('p', { className: 'hint' }, 'Keys: j / k move, Enter opens, 1-4 filter.'));
    document.querySelector('#queue tr.selected')?.scrollIntoView({ block: 'nearest' });
  };

  const open = (task) => {
    location.hash = `#/case/${task.id}`;
  };

  app.setKeys((event) => {
    const rows = visible();
    if (event.key === 'j' || event.key === 'ArrowDown') selected = Math.min(selected + 1, rows.length - 1);
    else if (event.key === 'k' || event.key === 'ArrowUp') selected = Math.max(selected - 1, 0);
    else if (event.key === 'Enter' && rows[selected]) return open(rows[selected].task);
    else if (['1', '2', '3', '4'].includes(event.key)) filter = Object.keys(FILTERS)[Number(event.key) - 1];
    else return;
    event.preventDefault();
    draw();
  });
  draw();
}
