/** Photos: thumbnails fetched with the token, quality warnings, a zoomable lightbox. */
import { formatDate, h } from './dom.js';
import { photoUrl } from './sources.js';

const SCALE_EXT = 'https://dermbridge.example.org/fhir/StructureDefinition/scale-reference-present';

export function qualityWarnings(media) {
  const warnings = [];
  if ((media.width ?? 0) < 800 || (media.height ?? 0) < 600) warnings.push(`low resolution (${media.width ?? '?'}×${media.height ?? '?'})`);
  const scale = media.extension?.find((e) => e.url === SCALE_EXT)?.valueBoolean;
  if (scale === false && media.view?.coding?.[0]?.code !== 'overview') warnings.push('no ruler or coin for scale');
  return warnings;
}

export function photoFigure(sources, media) {
  const img = h('img', { alt: `${media.view?.coding?.[0]?.display ?? 'Photo'}, ${media.bodySite?.text ?? ''}`, className: 'thumb', tabindex: '0' });
  photoUrl(sources, media).then((url) => { img.src = url; }).catch(() => { img.alt = 'Photo could not be loaded'; });
  const zoom = () => img.src && openLightbox(img.src, img.alt);
  img.addEventListener('click', zoom);
  img.addEventListener('keydown', (e) => e.key === 'Enter' && zoom());
  const warnings = qualityWarnings(media);
  return h(
    'figure',
    { className: 'photo' },
    img,
    h('figcaption', {}, h('strong', {}, media.view?.coding?.[0]?.display ?? ''), ` · ${media.bodySite?.text ?? media.bodySite?.coding?.[0]?.display ?? ''} · ${formatDate(media.createdDateTime)}`,
      warnings.map((w) => h('span', { className: 'badge warn' }, w))),
  );
}

function openLightbox(src, alt) {
  const box = document.getElementById('lightbox');
  let scale = 1;
  const img = h('img', { src, alt, className: 'zoomed' });
  const apply = () => img.style.setProperty('transform', `scale(${scale})`);
  const close = () => { box.hidden = true; box.replaceChildren(); document.removeEventListener('keydown', onKey, true); };
  const zoomBy = (f) => { scale = Math.min(8, Math.max(1, scale * f)); apply(); };
  const onKey = (e) => {
    if (e.key === 'Escape') close();
    else if (e.key === '+' || e.key === '=') zoomBy(1.25);
    else if (e.key === '-') zoomBy(0.8);
    else return;
    e.preventDefault();
    e.stopPropagation();
  };
  img.addEventListener('wheel', (e) => { e.preventDefault(); zoomBy(e.deltaY < 0 ? 1.15 : 0.87); }, { passive: false });
  box.replaceChildren(
    h('div', { className: 'lightbox-bar' }, h('button', { type: 'button', onclick: () => zoomBy(1.25) }, 'Zoom in (+)'), h('button', { type: 'button', onclick: () => zoomBy(0.8) }, 'Zoom out (−)'), h('button', { type: 'button', onclick: close }, 'Close (Esc)')),
    h('div', { className: 'lightbox-stage' }, img),
  );
  box.hidden = false;
  document.addEventListener('keydown', onKey, true);
}
