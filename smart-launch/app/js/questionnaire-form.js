/**
 * Renders the derm-review Questionnaire from the server's own copy (so the form follows the
 * Questionnaire, linkIds included) and builds the QuestionnaireResponse. Covers what derm-review
 * uses: group (repeating), choice (answerOption or a ValueSet's concepts, searchable), string, text,
 * integer, required, enableWhen `=` with enableBehavior any/all. @medplum/react's QuestionnaireForm
 * would need a React build step the app deliberately avoids (it ships as plain ES modules).
 */
import { h } from './dom.js';
import { findValueSet } from './sources.js';

export async function buildForm(sources, questionnaire, initial = {}) {
  const valueSets = new Map();
  for (const url of collect(questionnaire.item, (i) => i.answerValueSet)) {
    valueSets.set(url, await findValueSet(sources, url));
  }
  const form = h('form', { className: 'review-form', novalidate: true });
  // A tree of nodes: a field ({ item, control }) or a group ({ item, row, instances: node[][] }).
  let nodes = [];
  const fields = (list) => list.flatMap((n) => (n.instances ? n.instances.flatMap(fields) : [n]));
  // enableWhen in derm-review refers to top-level questions: the first answer of a linkId counts.
  const values = () => Object.fromEntries(fields(nodes).reverse().map((n) => [n.item.linkId, n.control.value()]));
  const refresh = () => walk(nodes, (n) => { n.row.hidden = !enabled(n.item, values()); });

  const render = (items, parent, suffix) =>
    items.map((item) => {
      if (item.type !== 'group') {
        const control = fieldFor(item, valueSets, suffix === '' ? initial[item.linkId] : undefined, refresh, suffix);
        parent.append(control.row);
        return { item, control, row: control.row };
      }
      const instancesBox = h('div', { className: 'instances' });
      const row = h('fieldset', { className: 'group', dataset: { linkId: item.linkId } }, h('legend', {}, item.text), instancesBox);
      const node = { item, row, instances: [] };
      const addInstance = () => {
        const n = node.instances.length;
        const box = h('div', { className: 'instance' });
        instancesBox.append(box);
        node.instances.push(render(item.item ?? [], box, n === 0 ? suffix : `${suffix}-${n + 1}`));
        refresh();
      };
      addInstance();
      if (item.repeats) {
        row.append(h('button', { type: 'button', className: 'add-instance', onclick: addInstance }, `Add another: ${item.text}`));
      }
      parent.append(row);
      return node;
    });
  nodes = render(questionnaire.item ?? [], form, '');
  refresh();

  /** The response items for the enabled, answered questions, nested like the Questionnaire (one group item per instance). */
  const toItems = (list) =>
    list.flatMap((node) => {
      if (!enabled(node.item, values())) return [];
      if (node.instances) {
        return node.instances.map((instance) => toItems(instance)).filter((children) => children.length).map((children) => ({ linkId: node.item.linkId, text: node.item.text, item: children }));
      }
      const answer = node.control.answer();
      return answer ? [{ linkId: node.item.linkId, text: node.item.text, answer: [answer] }] : [];
    });

  const missing = (list) =>
    list.flatMap((node) => {
      if (!enabled(node.item, values())) return [];
      if (node.instances) return node.instances.flatMap(missing);
      return node.item.required && !node.control.answer() ? [node.item.text] : [];
    });

  return {
    form,
    toItems: () => toItems(nodes),
    missing: () => missing(nodes),
    setValue: (linkId, v) => fields(nodes).find((n) => n.item.linkId === linkId)?.control.set(v),
  };
}

function walk(list, visit) {
  for (const node of list) {
    visit(node);
    node.instances?.forEach((instance) => walk(instance, visit));
  }
}

function fieldFor(item, valueSets, initial, onChange, suffix = '') {
  const id = `q-${item.linkId}${suffix}`;
  const label = h('label', { for: id }, item.text, item.required ? h('span', { className: 'req', 'aria-hidden': 'true' }, ' *') : null);
  let input;
  let answer;
  let value;
  if (item.type === 'choice') {
    const options = optionsFor(item, valueSets);
    if (item.answerOption && options.length <= 8) {
      input = h('select', { id, name: item.linkId }, h('option', { value: '' }, '—'), options.map((o, i) => h('option', { value: String(i) }, o.display ?? o.code)));
      value = () => options[Number(input.value)]?.code;
      answer = () => (input.value === '' ? undefined : { valueCoding: options[Number(input.value)] });
    } else {
      // Searchable: type any part of the name or code (ICD-10 or SNOMED CT), pick from the list.
      const listId = `${id}-list`;
      const optionLabel = (o) => `${o.display ?? ''} (${o.code})`;
      input = h('input', { id, name: item.linkId, list: listId, placeholder: options.length ? 'Type to search…' : 'code and name, e.g. 284520 Tacrolimus 0.1 % ointment', autocomplete: 'off' });
      const list = h('datalist', { id: listId }, options.map((o) => h('option', { value: optionLabel(o) })));
      const chosen = () => options.find((o) => optionLabel(o) === input.value) ?? freeCoding(item, valueSets, input.value);
      value = () => chosen()?.code;
      answer = () => { const c = chosen(); return c ? { valueCoding: c } : undefined; };
      return wrap(item, label, h('span', {}, input, list), value, answer, onChange, input, initial);
    }
  } else if (item.type === 'integer') {
    input = h('input', { id, name: item.linkId, type: 'number', min: '0', step: '1' });
    value = () => input.value;
    answer = () => (input.value === '' ? undefined : { valueInteger: Number(input.value) });
  } else {
    input = item.type === 'text' ? h('textarea', { id, name: item.linkId, rows: '3' }) : h('input', { id, name: item.linkId });
    value = () => input.value.trim();
    answer = () => (input.value.trim() ? { valueString: input.value.trim() } : undefined);
  }
  return wrap(item, label, input, value, answer, onChange, input, initial);
}

function wrap(item, label, control, value, answer, onChange, input, initial) {
  input.addEventListener('change', onChange);
  input.addEventListener('input', onChange);
  if (initial !== undefined) input.value = initial;
  const row = h('div', { className: 'field', dataset: { linkId: item.linkId } }, label, control);
  return { row, value, answer, set: (v) => { input.value = v; onChange(); } };
}

/** An RxNorm medication typed as "<code> <name>" (the value set is all of RxNorm, no list). */
function freeCoding(item, valueSets, text) {
  const vs = valueSets.get(item.answerValueSet);
  const system = vs?.compose?.include?.[0]?.system;
  const m = /^\s*(\d+)\s+(.+)$/.exec(text ?? '');
  return system && m ? { system, code: m[1], display: m[2].trim() } : undefined;
}

/**
 * Suggestions for value sets with no concept list (derm-rxnorm-medication is all of RxNorm). Only
 * codes verified against a standards source (fhir-profiles/README.md, "Code verification") are
 * listed; anything else is typed as "<RxCUI> <name>".
 */
const SUGGESTIONS = {
  'http://www.nlm.nih.gov/research/umls/rxnorm': [{ system: 'http://www.nlm.nih.gov/research/umls/rxnorm', code: '284520', display: 'Tacrolimus 0.1 % ointment [Protopic]' }],
};

function optionsFor(item, valueSets) {
  if (item.answerOption) return item.answerOption.map((o) => o.valueCoding).filter(Boolean);
  const vs = valueSets.get(item.answerValueSet);
  const includes = vs?.compose?.include ?? [];
  const listed = includes.flatMap((inc) => (inc.concept ?? []).map((c) => ({ system: inc.system, code: c.code, display: c.display })));
  return listed.length ? listed : includes.flatMap((inc) => SUGGESTIONS[inc.system] ?? []);
}

function enabled(item, values) {
  if (!item.enableWhen?.length) return true;
  const results = item.enableWhen.map((w) => w.operator === '=' && values[w.question] === (w.answerCoding?.code ?? w.answerString ?? w.answerBoolean));
  return item.enableBehavior === 'any' ? results.some(Boolean) : results.every(Boolean);
}

function collect(items = [], pick) {
  return [...new Set(items.flatMap((i) => [pick(i), ...collect(i.item, pick)]).filter(Boolean))];
}
