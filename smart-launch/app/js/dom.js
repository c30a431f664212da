/**
 * A tiny DOM builder: every piece of data goes in as text (never as HTML), so nothing from a FHIR
 * resource can inject markup or script.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value);
    else if (name === 'className') el.className = value;
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the main view's content. */
export function show(...children) {
  const view = document.getElementById('view');
  view.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return view;
}

/** A clear, final message (failed launch, refused state): no app behind it. */
export function showFatal(title, detail) {
  const target = document.getElementById('view') ?? document.getElementById('status') ?? document.body;
  target.replaceChildren(
    h('div', { className: 'fatal', role: 'alert' }, h('h1', {}, title), h('p', {}, detail), h('p', { className: 'hint' }, 'Close this window and launch the app again from the EHR.')),
  );
}

export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return d.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' }) + ' ' + d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

export function humanName(resource) {
  const n = resource?.name?.[0];
  if (!n) return 'Unnamed';
  return n.text ?? [...(n.prefix ?? []), ...(n.given ?? []), n.family].filter(Boolean).join(' ');
}
