/** One case: triage and red flags on top, photos, the intake answers as the form grouped them, the EHR chart, actions and the review form. */
import { accept, askQuestion, resume, REVIEW_QUESTIONNAIRE, submitReview } from './case-actions.js';
import { formatDate, h, humanName, show } from './dom.js';
import { photoFigure } from './photos.js';
import { buildForm } from './questionnaire-form.js';
import { businessStatus, dueDate, isOverdue } from './queue-model.js';
import { minutesOn, startTimer } from './review-timer.js';
import { allows } from './scopes.js';
import { ehrPatientIdFor, findQuestionnaire, loadCase, loadEhrChart } from './sources.js';

export async function renderCase(app, taskId) {
  show(h('p', { className: 'loading', role: 'status' }, 'Loading the case…'));
  const data = await loadCase(app.sources, taskId);
  const { task, patient } = data;
  const open = ['requested', 'accepted', 'in-progress', 'on-hold'].includes(task.status);
  if (open) startTimer(task.id);
  const canWrite = allows(app.sources.grantedScope, 'Task', 'u');
  const reload = () => renderCase(app, taskId);
  const act = (fn) => async () => {
    try {
      await fn();
      await reload();
    } catch (err) {
      status.textContent = `Could not save: ${err?.message ?? err}`;
      status.className = 'status error';
    }
  };
  const status = h('p', { className: 'status', role: 'status', id: 'case-status' });

  const header = h(
    'header',
    { className: 'case-header' },
    h('a', { href: '#/queue', className: 'back' }, '← Queue (Esc)'),
    h('h1', {}, humanName(patient), h('span', { className: 'sub' }, ` ${patient.gender ?? ''} · born ${patient.birthDate ?? '?'}`)),
    h('div', { className: 'badges' },
      h('span', { className: `badge priority-${task.priority}` }, task.priority),
      h('span', { className: 'badge' }, businessStatus(task) ?? task.status),
      h('span', { className: isOverdue(task) && open ? 'badge overdue-badge' : 'badge' }, `due ${formatDate(dueDate(task))}${isOverdue(task) && open ? ' (overdue)' : ''}`),
      task.owner ? h('span', { className: 'badge' }, `owner: ${task.owner.reference === app.sources.fhirUser ? 'me' : task.owner.display ?? task.owner.reference}`) : null,
      open ? h('span', { className: 'badge timer', id: 'timer' }, `${minutesOn(task.id)} min on this case`) : null),
  );

  const actions = h('div', { className: 'actions', role: 'toolbar', 'aria-label': 'Case actions' });
  if (canWrite && task.status === 'requested') actions.append(h('button', { type: 'button', id: 'accept', onclick: act(() => accept(app.sources, task, app.userDisplay)) }, 'Accept and assign to me (a)'));
  if (canWrite && task.status === 'on-hold') actions.append(h('button', { type: 'button', id: 'resume', onclick: act(() => resume(app.sources, task)) }, 'Reply received: resume (r)'));
  if (canWrite && ['requested', 'accepted', 'in-progress'].includes(task.status)) actions.append(questionForm(app, data, act));
  if (!canWrite) actions.append(h('p', { className: 'hint' }, 'Read only: the EHR did not grant write access to Tasks.'));

  const main = h('div', { className: 'case-main' },
    triageCard(data),
    messagesCard(data.messages),
    h('section', { className: 'card' }, h('h2', {}, 'Photos'), h('div', { className: 'photos' }, data.media.map((m) => photoFigure(app.sources, m)))),
    data.priorMedia.length ? h('section', { className: 'card' }, h('h2', {}, 'Earlier photos of the same sites'), h('div', { className: 'photos' }, data.priorMedia.map((m) => photoFigure(app.sources, m)))) : null,
    data.responses.map((qr) => answersCard(qr, data.questionTexts)),
  );
  const side = h('div', { className: 'case-side' }, chartCard(app, patient), open && canWrite ? await reviewCard(app, data, status) : resultCard(task));
  show(header, actions, status, h('div', { className: 'case-grid' }, main, side));

  app.setKeys((event) => {
    if (event.target.closest?.('input, textarea, select')) return;
    if (event.key === 'Escape') location.hash = '#/queue';
    else if (event.key === 'a') document.getElementById('accept')?.click();
    else if (event.key === 'r') document.getElementById('resume')?.click();
    else return;
    event.preventDefault();
  });
  app.onTick(() => {
    const t = document.getElementById('timer');
    if (t) t.textContent = `${minutesOn(task.id)} min on this case`;
  });
}

function triageCard({ triage, responses, questionTexts }) {
  const redFlags = responses.flatMap((qr) => yesAnswers(qr.item ?? [], 'red-flags', questionTexts));
  if (!triage && redFlags.length === 0) return null;
  const outcome = triage?.prediction?.[0];
  const level = outcome?.outcome?.coding?.[0]?.code ?? 'none';
  return h('section', { className: `card triage triage-card-${level}`, 'aria-label': 'Triage' },
    h('h2', {}, 'Triage ', outcome ? h('span', { className: `badge triage-${outcome.outcome?.coding?.[0]?.code}` }, outcome.outcome?.coding?.[0]?.display ?? '') : null),
    outcome?.rationale ? h('p', { className: 'rationale' }, outcome.rationale) : null,
    redFlags.length ? h('div', { className: 'red-flags' }, h('strong', {}, 'Red flags reported: '), h('ul', {}, redFlags.map((f) => h('li', {}, f)))) : null,
    (triage?.note ?? []).length ? h('details', {}, h('summary', {}, 'Rules evaluated'), h('ul', {}, triage.note.map((n) => h('li', {}, n.text)))) : null,
  );
}

/** Questions answered "yes" inside the group with this linkId (the intake's red-flag questions). */
function yesAnswers(items, groupLinkId, texts, inGroup = false) {
  return items.flatMap((item) => {
    const here = inGroup || item.linkId === groupLinkId;
    const own = here && item.answer?.some((a) => a.valueBoolean === true) ? [item.text ?? texts.get(item.linkId) ?? item.linkId] : [];
    return [...own, ...yesAnswers(item.item ?? [], groupLinkId, texts, here), ...(item.answer ?? []).flatMap((a) => yesAnswers(a.item ?? [], groupLinkId, texts, here))];
  });
}

/** Questions to the patient or PCP about this case, and their replies, oldest first. */
function messagesCard(messages) {
  if (!messages.length) return null;
  const who = (ref) => (ref?.reference?.startsWith('Patient/') ? 'patient' : ref?.reference?.startsWith('Practitioner/') ? 'clinician' : ref?.display ?? ref?.reference ?? '?');
  return h('section', { className: 'card messages', 'aria-label': 'Questions and replies' }, h('h2', {}, 'Questions and replies'),
    h('ul', {}, messages.map((m) => h('li', {}, h('span', { className: 'sub' }, `${formatDate(m.sent)} · ${who(m.sender)} → ${who(m.recipient?.[0])}: `), (m.payload ?? []).map((p) => p.contentString).filter(Boolean).join(' ')))));
}

function answersCard(qr, texts) {
  const title = /derm-econsult/.test(qr.questionnaire) ? 'Referring clinician\'s e-consult' : 'Patient intake';
  return h('section', { className: 'card answers' }, h('h2', {}, title, h('span', { className: 'sub' }, ` ${formatDate(qr.authored)}`)), renderItems(qr.item ?? [], texts));
}

/** Answers grouped as the form groups them, with the form's own question texts. */
function renderItems(items, texts) {
  const text = (item) => item.text ?? texts.get(item.linkId) ?? item.linkId;
  return h('dl', {}, items.map((item) => {
    if (item.item && !item.answer) return h('div', { className: 'answer-group' }, h('h3', {}, text(item)), renderItems(item.item, texts));
    return [h('dt', {}, text(item)), h('dd', {}, (item.answer ?? []).map(answerText).join('; ')), (item.answer ?? []).flatMap((a) => (a.item ? [h('dd', {}, renderItems(a.item, texts))] : []))];
  }));
}

function answerText(a) {
  if (a.valueCoding) return a.valueCoding.display ?? a.valueCoding.code;
  if (a.valueBoolean !== undefined) return a.valueBoolean ? 'Yes' : 'No';
  if (a.valueAttachment) return `photo: ${a.valueAttachment.title ?? 'attached'} (see Photos)`;
  if (a.valueQuantity) return `${a.valueQuantity.value} ${a.valueQuantity.unit ?? ''}`;
  return String(a.valueString ?? a.valueInteger ?? a.valueDecimal ?? a.valueDate ?? a.valueDateTime ?? '');
}

function chartCard(app, casePatient) {
  const card = h('section', { className: 'card chart' }, h('h2', {}, 'From the EHR chart'), h('p', { className: 'loading' }, 'Loading…'));
  ehrPatientIdFor(app.sources, casePatient)
    .then((id) => loadEhrChart(app.sources, id))
    .then((chart) => {
      const list = (title, resources, text) => [h('h3', {}, title), resources === undefined ? h('p', { className: 'hint' }, 'Not available from the EHR.') : resources.length === 0 ? h('p', { className: 'hint' }, 'None recorded.') : h('ul', {}, resources.map((r) => h('li', {}, text(r))))];
      const concept = (c) => c?.text ?? c?.coding?.[0]?.display ?? c?.coding?.[0]?.code ?? '';
      const parts = chart
        ? [list('Problems', chart.conditions, (c) => concept(c.code)), list('Medications', chart.medications, (m) => concept(m.medicationCodeableConcept)), list('Allergies', chart.allergies, (a) => concept(a.code))].flat()
        : [h('p', { className: 'hint' }, 'This patient was not found in the EHR (no matching identifier).')];
      card.replaceChildren(h('h2', {}, 'From the EHR chart'), ...parts);
    })
    .catch((err) => card.replaceChildren(h('h2', {}, 'From the EHR chart'), h('p', { className: 'hint' }, `Not available: ${err.message}`)));
  return card;
}

function questionForm(app, data, act) {
  const recipient = h('select', { id: 'question-recipient', 'aria-label': 'Question for' }, h('option', { value: 'patient' }, 'the patient'), h('option', { value: 'pcp' }, 'the referring clinician'));
  const text = h('input', { id: 'question-text', placeholder: 'Ask a question (the case waits on hold)…', 'aria-label': 'Question' });
  return h('form', { className: 'ask', onsubmit: (e) => { e.preventDefault(); if (text.value.trim()) act(() => askQuestion(app.sources, data, recipient.value, text.value.trim(), app.userDisplay))(); } },
    h('span', {}, 'Ask '), recipient, text, h('button', { type: 'submit' }, 'Send and put on hold'));
}

async function reviewCard(app, data, status) {
  const questionnaire = await findQuestionnaire(app.sources, REVIEW_QUESTIONNAIRE);
  if (!questionnaire) return h('section', { className: 'card' }, h('p', {}, 'The review form (derm-review Questionnaire) is not on the server.'));
  const built = await buildForm(app.sources, questionnaire);
  const submit = h('button', { type: 'submit', id: 'submit-review', className: 'primary' }, 'Sign and complete review');
  built.form.append(submit);
  built.form.addEventListener('submit', async (e) => {
    e.preventDefault();
    built.setValue('review-minutes', String(minutesOn(data.task.id)));
    const missing = built.missing();
    if (missing.length) {
      status.textContent = `Still required: ${missing.join(', ')}`;
      status.className = 'status error';
      return;
    }
    submit.disabled = true;
    try {
      const qr = await submitReview(app.sources, data, questionnaire, built.toItems(), app.userDisplay);
      status.textContent = `Review signed (QuestionnaireResponse/${qr.id}). The disposition service records the results and completes the case…`;
      status.className = 'status ok';
      await waitForDisposition(app, data.task.id);
      await renderCase(app, data.task.id);
    } catch (err) {
      submit.disabled = false;
      status.textContent = `Could not save the review: ${err?.message ?? err}`;
      status.className = 'status error';
    }
  });
  return h('section', { className: 'card review' }, h('h2', {}, 'Review'), built.form);
}

/** The disposition bot moves the Task on (completed, or on-hold for a question); wait up to ~45 s for it. */
async function waitForDisposition(app, taskId) {
  for (let i = 0; i < 45; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const task = await app.sources.cases.request(`Task/${taskId}`).catch(() => undefined);
    if (task && task.status !== 'in-progress') return;
  }
}

function resultCard(task) {
  const outputs = (task.output ?? []).map((o) => o.valueReference?.reference).filter(Boolean);
  return h('section', { className: 'card result', id: 'result' }, h('h2', {}, `Case ${task.status}`), outputs.length ? h('ul', {}, outputs.map((o) => h('li', {}, o))) : h('p', { className: 'hint' }, 'No results recorded yet.'));
}
