/*
 * dermbridge intake page: renders the derm-intake (patient) or derm-econsult (PCP) Questionnaire,
 * checks each photo as soon as it is chosen, submits answers + photos as one multipart request and
 * then shows the case status and messages.
 *
 * Why a small vanilla renderer and not @medplum/react's QuestionnaireForm: that component needs
 * React, Mantine and a bundler, a build step this server does not ship, and about a megabyte of
 * script on a patient's phone. Our forms use a small part of SDC (groups, repeating photo sets,
 * enableWhen with = / != / exists, required, choice lists, attachments), all handled below; the
 * server checks the response again in full (src/cases/questionnaire-response-check.ts), so this
 * page only has to help the user, not to be the judge.
 *
 * The access token comes from the portal that opens the page (`#token=...` in the URL fragment, which
 * is never sent to a server) and lives only in this page's memory.
 */
(function () {
  'use strict';
  const variant = document.body.dataset.variant === 'pcp' ? 'pcp' : 'patient';
  const base = location.pathname.replace(/\/(pcp|patient)?\/?$/, '');
  const app = document.getElementById('app');
  let token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  if (token) history.replaceState(null, '', location.pathname + location.search);
  const idempotencyKey = crypto.randomUUID();
  const files = new Map(); // part name -> File
  let partCounter = 0;
  let form; // { questionnaire, choices }

  const el = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') node.className = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else if (v !== undefined && v !== false) node.setAttribute(k, v === true ? '' : v);
    }
    for (const c of children.flat()) if (c !== undefined && c !== null) node.append(c);
    return node;
  };
  const api = (path, init = {}) =>
    fetch(`${base}/${path}`, { ...init, headers: { ...(init.headers || {}), Authorization: `Bearer ${token}` } });

  async function start() {
    if (!token) return askToken();
    const name = variant === 'pcp' ? 'derm-econsult' : 'derm-intake';
    const res = await fetch(`${base}/forms/${name}`);
    form = await res.json();
    const caseId = sessionStorage.getItem(`dermbridge-case-${name}`);
    if (caseId && location.search.includes('status')) return showStatus(caseId);
    renderForm();
  }

  function askToken() {
    const input = el('input', { type: 'text', id: 'token', 'aria-label': 'Access token' });
    app.replaceChildren(
      el('h1', {}, 'Sign in'),
      el('p', {}, 'Open this page from your patient portal, or paste the access token you were given.'),
      input,
      el('p', {}, el('button', { onclick: () => { token = input.value.trim(); start(); } }, 'Continue'))
    );
  }

  // ---- rendering -------------------------------------------------------------------------
  function renderForm() {
    const q = form.questionnaire;
    const body = el('form', { id: 'intake', novalidate: true, onsubmit: onSubmit, onchange: refreshEnabled, oninput: refreshEnabled });
    if (variant === 'pcp') body.append(patientFieldset());
    for (const item of q.item || []) body.append(renderItem(item));
    body.append(el('div', { id: 'form-error', class: 'error', role: 'alert' }), el('button', { type: 'submit', id: 'submit' }, 'Send to the dermatologist'));
    app.replaceChildren(el('h1', {}, q.title || 'Skin check'), body);
    refreshEnabled();
  }

  function patientFieldset() {
    const field = (id, label, type = 'text') => el('div', { class: 'item' }, el('label', { class: 'q req', for: id }, label), el('input', { type, id, name: id }));
    return el('fieldset', { id: 'patient' }, el('legend', {}, 'Patient'), field('patient-mrn', 'Medical record number (MRN)'), field('patient-family', 'Family name'), field('patient-given', 'Given name'), field('patient-birth', 'Date of birth', 'date'));
  }

  function renderItem(item) {
    const attrs = { class: 'item', 'data-linkid': item.linkId, 'data-type': item.type };
    if (item.type === 'display') return el('p', { ...attrs, class: 'item display' }, item.text);
    if (item.type === 'group') {
      const instance = () => el('fieldset', { ...attrs, class: 'group' }, el('legend', {}, item.text), item.linkId === 'photo-set' ? guidance() : null, (item.item || []).map(renderItem));
      if (!item.repeats) return instance();
      const holder = el('div', { 'data-repeat': item.linkId }, instance());
      holder.append(el('button', { type: 'button', class: 'secondary', onclick: (e) => { holder.insertBefore(instance(), e.target); refreshEnabled(); } }, 'Add photos of another body site'));
      return holder;
    }
    const id = `q-${item.linkId}-${Math.random().toString(36).slice(2, 7)}`;
    const label = el('label', { class: `q${item.required ? ' req' : ''}`, for: id }, item.text);
    return el('div', attrs, label, renderInput(item, id), el('div', { class: 'error', role: 'alert' }));
  }

  function renderInput(item, id) {
    switch (item.type) {
      case 'boolean':
        return el('div', { class: 'choices', role: 'radiogroup' }, ['Yes', 'No'].map((t) => el('label', {}, el('input', { type: 'radio', name: id, value: t === 'Yes' ? 'true' : 'false', ...(t === 'Yes' ? { id } : {}) }), t)));
      case 'choice': {
        const options = item.answerOption ? item.answerOption.map((o) => o.valueCoding) : form.choices[item.answerValueSet] || [];
        const value = (c) => JSON.stringify({ system: c.system, code: c.code, display: c.display });
        if (item.repeats || options.length <= 6) {
          return el('div', { class: 'choices' }, options.map((c, i) => el('label', {}, el('input', { type: item.repeats ? 'checkbox' : 'radio', name: id, value: value(c), ...(i === 0 ? { id } : {}) }), c.display || c.code)));
        }
        return el('select', { id }, el('option', { value: '' }, 'Choose...'), options.map((c) => el('option', { value: value(c) }, c.display || c.code)));
      }
      case 'integer':
      case 'decimal': {
        const min = ext(item, 'minValue');
        const max = ext(item, 'maxValue');
        return el('input', { type: 'number', id, inputmode: item.type === 'integer' ? 'numeric' : 'decimal', step: item.type === 'integer' ? '1' : 'any', min, max });
      }
      case 'date':
        return el('input', { type: 'date', id });
      case 'text':
        return el('textarea', { id, maxlength: item.maxLength });
      case 'attachment':
        return el('div', {}, el('input', { type: 'file', id, accept: 'image/jpeg,image/png,image/webp', multiple: !!item.repeats, onchange: onPhotosChosen }), el('div', { class: 'photos' }));
      default:
        return el('input', { type: 'text', id, maxlength: item.maxLength });
    }
  }

  function ext(item, name) {
    const e = (item.extension || []).find((x) => x.url.endsWith(`/${name}`));
    return e ? e.valueInteger ?? e.valueDecimal : undefined;
  }

  function guidance() {
    return el('div', { class: 'guidance' }, el('h2', {}, 'How to take the photos'), el('ul', {},
      el('li', {}, 'Overview: from 1-1.5 m, so the body part and where the spot is can be seen.'),
      el('li', {}, 'Close-ups: from 20-30 cm, camera square to the skin, tap the spot to focus. At least two.'),
      el('li', {}, 'Daylight near a window, no flash, no filters, plain background.'),
      el('li', {}, 'Put a ruler or coin beside the spot (not over it) in the close-ups.'),
      el('li', {}, 'Each photo is checked as soon as you choose it; retake it if we say it is blurred or dark.')));
  }

  // ---- photos ----------------------------------------------------------------------------
  async function onPhotosChosen(event) {
    const input = event.target;
    const list = input.parentElement.querySelector('.photos');
    list.replaceChildren();
    input.dataset.parts = '';
    const parts = [];
    for (const file of input.files) {
      const part = `photo-${++partCounter}`;
      files.set(part, file);
      parts.push(part);
      const feedback = el('div', { class: 'quality' }, 'Checking the photo...');
      list.append(el('div', { class: 'photo', 'data-part': part }, el('img', { src: URL.createObjectURL(file), alt: file.name }), el('div', {}, el('div', {}, file.name), feedback)));
      checkPhoto(file, feedback);
    }
    input.dataset.parts = parts.join(',');
  }

  async function checkPhoto(file, feedback) {
    try {
      const res = await api('photo-check', { method: 'POST', body: file, headers: { 'Content-Type': 'application/octet-stream' } });
      const body = await res.json();
      if (!res.ok) {
        feedback.className = 'quality warn';
        feedback.textContent = body.detail;
      } else if (body.issues.length === 0) {
        feedback.className = 'quality ok';
        feedback.textContent = `Good photo (${body.width} x ${body.height}).`;
      } else {
        feedback.className = 'quality warn';
        feedback.replaceChildren(...body.issues.map((i) => el('div', {}, i.message)));
      }
    } catch {
      feedback.textContent = 'Could not check the photo now; it will be checked when you send.';
    }
  }

  // ---- enableWhen ------------------------------------------------------------------------
  function refreshEnabled() {
    for (const node of document.querySelectorAll('[data-linkid]')) {
      const def = findDef(node.dataset.linkid);
      if (!def || !def.enableWhen) continue;
      const results = def.enableWhen.map(conditionHolds);
      const on = def.enableBehavior === 'any' ? results.some(Boolean) : results.every(Boolean);
      node.classList.toggle('hidden', !on);
    }
  }

  function conditionHolds(cond) {
    const node = document.querySelector(`[data-linkid="${cond.question}"]`);
    const answers = node && !isHidden(node) ? answersOf(node) : [];
    if (cond.operator === 'exists') return (answers.length > 0) === cond.answerBoolean;
    const expected = cond.answerBoolean ?? cond.answerCoding?.code ?? cond.answerInteger ?? cond.answerDecimal ?? cond.answerString ?? cond.answerDate;
    const values = answers.map((a) => a.valueBoolean ?? a.valueCoding?.code ?? a.valueInteger ?? a.valueDecimal ?? a.valueString ?? a.valueDate);
    switch (cond.operator) {
      case '=': return values.some((v) => v === expected);
      case '!=': return values.length > 0 && values.every((v) => v !== expected);
      case '>': return values.some((v) => v > expected);
      case '<': return values.some((v) => v < expected);
      case '>=': return values.some((v) => v >= expected);
      case '<=': return values.some((v) => v <= expected);
      default: return false;
    }
  }

  const isHidden = (node) => !!node.closest('.hidden');

  function findDef(linkId, items = form.questionnaire.item || []) {
    for (const item of items) {
      if (item.linkId === linkId) return item;
      const found = findDef(linkId, item.item || []);
      if (found) return found;
    }
    return undefined;
  }

  // ---- building the QuestionnaireResponse ------------------------------------------------
  function answersOf(node) {
    const type = node.dataset.type;
    if (type === 'attachment') {
      const input = node.querySelector('input[type=file]');
      return (input.dataset.parts || '').split(',').filter(Boolean).map((part) => ({ valueAttachment: { url: `cid:${part}`, title: files.get(part).name } }));
    }
    if (type === 'boolean' || (type === 'choice' && node.querySelector('.choices'))) {
      return [...node.querySelectorAll('input:checked')].map((i) => (type === 'boolean' ? { valueBoolean: i.value === 'true' } : { valueCoding: JSON.parse(i.value) }));
    }
    const input = node.querySelector('input, textarea, select');
    const v = input.value.trim();
    if (!v) return [];
    switch (type) {
      case 'choice': return [{ valueCoding: JSON.parse(v) }];
      case 'integer': return [{ valueInteger: parseInt(v, 10) }];
      case 'decimal': return [{ valueDecimal: parseFloat(v) }];
      case 'date': return [{ valueDate: v }];
      default: return [{ valueString: v }];
    }
  }

  /** Items of one container, in form order, skipping hidden (disabled) ones and empty answers. */
  function collect(container) {
    const out = [];
    for (const child of container.children) {
      if (child.dataset.repeat) {
        out.push(...collect(child));
        continue;
      }
      if (!child.dataset || !child.dataset.linkid || child.classList.contains('hidden')) continue;
      const { linkid, type } = child.dataset;
      if (type === 'display') continue;
      if (type === 'group') {
        const items = collect(child);
        if (items.length) out.push({ linkId: linkid, item: items });
        continue;
      }
      const answer = answersOf(child);
      if (answer.length) out.push({ linkId: linkid, answer });
    }
    return out;
  }

  function missingRequired() {
    const missing = [];
    for (const node of document.querySelectorAll('[data-linkid]')) {
      const def = findDef(node.dataset.linkid);
      const err = node.querySelector(':scope > .error');
      if (err) err.textContent = '';
      if (!def || !def.required || isHidden(node) || def.type === 'group' || def.type === 'display') continue;
      if (answersOf(node).length === 0) {
        missing.push(node);
        if (err) err.textContent = 'Please answer this question.';
      }
    }
    return missing;
  }

  async function onSubmit(event) {
    event.preventDefault();
    const error = document.getElementById('form-error');
    error.textContent = '';
    const missing = missingRequired();
    if (missing.length) {
      error.textContent = `${missing.length} required question(s) still need an answer.`;
      missing[0].scrollIntoView({ block: 'center' });
      return;
    }
    const q = form.questionnaire;
    const response = { resourceType: 'QuestionnaireResponse', questionnaire: `${q.url}|${q.version}`, status: 'completed', authored: new Date().toISOString(), item: collect(document.getElementById('intake')) };
    const body = new FormData();
    body.append('questionnaireResponse', JSON.stringify(response));
    if (variant === 'pcp') body.append('patient', JSON.stringify(patientFromForm()));
    for (const part of response.item.length ? usedParts(response) : []) body.append(part, files.get(part), files.get(part).name);
    const button = document.getElementById('submit');
    button.disabled = true;
    button.textContent = 'Sending...';
    try {
      const res = await api('cases', { method: 'POST', body, headers: { 'Idempotency-Key': idempotencyKey } });
      const result = await res.json();
      if (!res.ok) {
        error.replaceChildren(el('div', {}, result.detail), ...(result.errors || []).slice(0, 5).map((e) => el('div', {}, `${e.where ? `${e.where}: ` : ''}${e.message}`)));
        return;
      }
      sessionStorage.setItem(`dermbridge-case-${q.id}`, result.caseId);
      renderStatus(result);
    } catch {
      error.textContent = 'The case could not be sent (network). Try again: it will not be sent twice.';
    } finally {
      button.disabled = false;
      button.textContent = 'Send to the dermatologist';
    }
  }

  function usedParts(response) {
    return JSON.stringify(response).match(/cid:photo-\d+/g).map((s) => s.slice(4));
  }

  function patientFromForm() {
    const v = (id) => document.getElementById(id).value.trim();
    return { resourceType: 'Patient', identifier: [{ system: 'https://dermbridge.example.org/fhir/sid/mrn', value: v('patient-mrn') }], name: [{ family: v('patient-family'), given: [v('patient-given')] }], birthDate: v('patient-birth') || undefined };
  }

  // ---- status ----------------------------------------------------------------------------
  async function showStatus(caseId) {
    const res = await api(`cases/${encodeURIComponent(caseId)}`);
    const body = await res.json();
    if (!res.ok) {
      app.replaceChildren(el('div', { class: 'banner fail' }, body.detail));
      return;
    }
    renderStatus(body);
  }

  function renderStatus(status) {
    const thumbs = el('div', { class: 'thumbs' });
    const warnings = status.photos.filter((p) => p.quality && p.quality.issues && p.quality.issues.length);
    app.replaceChildren(
      el('h1', {}, 'Your case was sent'),
      el('div', { class: 'banner', id: 'case-status' }, `Case ${status.caseNumber || status.caseId}: ${status.businessStatus ? status.businessStatus.display : status.status}.`),
      el('dl', { class: 'status' },
        el('dt', {}, 'Status'), el('dd', { id: 'status-value' }, status.status),
        el('dt', {}, 'Sent'), el('dd', {}, new Date(status.submittedAt).toLocaleString()),
        el('dt', {}, 'Photos'), el('dd', {}, `${status.photos.length}${warnings.length ? ` (${warnings.length} may need retaking)` : ''}`, thumbs)),
      el('h2', {}, 'Messages'),
      status.messages.length ? status.messages.map((m) => el('div', { class: 'message' }, el('div', {}, m.text), el('small', {}, m.sent ? new Date(m.sent).toLocaleString() : ''))) : el('p', { id: 'no-messages' }, 'No messages yet. The dermatologist will answer here.'),
      el('button', { class: 'secondary', onclick: () => showStatus(status.caseId) }, 'Refresh')
    );
    for (const photo of status.photos) loadThumb(photo, thumbs);
  }

  async function loadThumb(photo, holder) {
    if (!photo.thumbnail) return;
    const res = await fetch(`${base.replace(/\/intake$/, '')}/fhir/R4/${photo.thumbnail}`, { headers: { Authorization: `Bearer ${token}`, Accept: 'image/*' } });
    if (res.ok) holder.append(el('img', { src: URL.createObjectURL(await res.blob()), alt: `${photo.view} photo` }));
  }

  start().catch((err) => app.replaceChildren(el('div', { class: 'banner fail' }, `The form could not be loaded: ${err.message}`)));
})();
