/**
 * SMART `smart_style_url`: the EHR's colours, fonts and spacing, mapped onto the app's CSS custom
 * properties (CSSOM, so the strict style-src CSP still holds). Absent or unreadable: our defaults.
 */
const MAP = {
  color_background: '--bg',
  color_text: '--text',
  color_highlight: '--accent',
  color_error: '--error',
  color_success: '--ok',
  dim_border_radius: '--radius',
  dim_font_size: '--font-size',
  dim_spacing_size: '--space',
  font_family_body: '--font',
  font_family_heading: '--font-heading',
};

export async function applySmartStyle(url) {
  if (!url) return;
  try {
    const res = await fetch(url, { credentials: 'omit' });
    if (!res.ok) return;
    const style = await res.json();
    for (const [key, property] of Object.entries(MAP)) {
      if (typeof style[key] === 'string' && style[key].length < 200) document.documentElement.style.setProperty(property, style[key]);
    }
    document.documentElement.dataset.smartStyle = 'applied';
  } catch {
    // The style is cosmetic: a missing or cross-origin style file must not stop the review.
  }
}
