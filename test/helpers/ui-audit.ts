// Probes run inside the page (Chromium) by the UI quality e2e tests: accessible names, sideways overflow, focus.
// They are strings, not functions: the test runner's transform may add helpers that do not exist in the page.

export interface FocusState {
  tag: string;
  name: string;
  visible: boolean;
  interactive: boolean;
  inMain: boolean;
}

/** What keyboard and screen-reader users can operate. */
export const INTERACTIVE =
  'button, a[href], input:not([type=hidden]), select, textarea, summary, [role=button], [tabindex]';

/**
 * An approximation of the accessible name (aria-labelledby, aria-label, <label>, title, content, alt, value,
 * placeholder last): returns the visible controls that have none, described so a reader can find them.
 */
export const UNNAMED_CONTROLS = `(() => {
  const els = [...document.querySelectorAll(${JSON.stringify(INTERACTIVE)})];
  const text = (n) => (n ? (n.textContent || '').replace(/\\s+/g, ' ').trim() : '');
  const labelText = (label) => {
    const copy = label.cloneNode(true);
    copy.querySelectorAll('input, select, textarea, button').forEach((c) => c.remove());
    return text(copy);
  };
  // Rendered and not hidden (a closed dialog or <details> is not); an empty control has no size yet still takes focus.
  const visible = (el) => el.checkVisibility({ checkOpacity: false, checkVisibilityCSS: true });
  const nameOf = (el) => {
    const by = el.getAttribute('aria-labelledby');
    if (by) {
      const t = by.split(/\\s+/).map((id) => text(document.getElementById(id))).join(' ').trim();
      if (t) return t;
    }
    const aria = (el.getAttribute('aria-label') || '').trim();
    if (aria) return aria;
    if (el.labels && el.labels.length) {
      const t = [...el.labels].map(labelText).join(' ').trim();
      if (t) return t;
    }
    const title = (el.getAttribute('title') || '').trim();
    if (title) return title;
    const tag = el.tagName.toLowerCase();
    if (tag === 'input' && ['submit', 'button', 'reset'].includes(el.type) && el.value) return el.value;
    if (tag === 'input' && el.type === 'image' && el.alt) return el.alt;
    if (!['input', 'select', 'textarea'].includes(tag)) {
      const t = text(el);
      if (t) return t;
      const alt = [...el.querySelectorAll('img[alt]')].map((i) => i.alt).join(' ').trim();
      if (alt) return alt;
    }
    return (el.getAttribute('placeholder') || '').trim();
  };
  return els
    .filter((el) => !(el.hasAttribute('tabindex') && Number(el.getAttribute('tabindex')) < 0 && !el.matches('button, a[href], input, select, textarea, summary')))
    .filter(visible)
    .filter((el) => !nameOf(el))
    .map((el) => {
      const attrs = ['type', 'name', 'id', 'class', 'data-testid', 'href'].filter((a) => el.getAttribute(a)).map((a) => a + '="' + el.getAttribute(a) + '"');
      const near = text(el.closest('tr, fieldset, section, dialog, form')).slice(0, 60);
      return '<' + el.tagName.toLowerCase() + (attrs.length ? ' ' + attrs.join(' ') : '') + '> near "' + near + '"';
    });
})()`;

/**
 * Sideways overflow: the document or the main area scrolling horizontally, an element reaching past the visible
 * right edge, or text cut off with no ellipsis by its own box.
 */
export const OVERFLOWS = `(() => {
  const out = [];
  const describe = (el) => {
    const id = el.getAttribute('aria-label') || el.getAttribute('data-testid') || el.className || '';
    return '<' + el.tagName.toLowerCase() + (id ? ' ' + String(id).slice(0, 50) : '') + '> "' + (el.textContent || '').replace(/\\s+/g, ' ').trim().slice(0, 40) + '"';
  };
  const doc = document.scrollingElement;
  if (doc.scrollWidth > doc.clientWidth) out.push('the page scrolls sideways: ' + doc.scrollWidth + ' > ' + doc.clientWidth);
  const main = document.querySelector('main');
  if (main.scrollWidth > main.clientWidth) out.push('the main area scrolls sideways: ' + main.scrollWidth + ' > ' + main.clientWidth);
  const mainRight = main.getBoundingClientRect().left + main.clientWidth;
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  for (const el of document.querySelectorAll('main *, .status-bar *, .sidebar *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const inDialog = el.closest('dialog');
    const right = inDialog || !main.contains(el) ? window.innerWidth : mainRight;
    // An element inside a box that scrolls on purpose (a log, a list) is checked by that box, not by the page.
    const scroller = el.parentElement && el.parentElement.closest('.run-log, .vm-pick-list');
    if (!scroller && r.right > right + 1) out.push(describe(el) + ' ends at x=' + Math.round(r.right) + ', past the visible edge at ' + Math.round(right));
    const cs = getComputedStyle(el);
    if (ownText(el) && cs.overflowX !== 'visible' && cs.textOverflow !== 'ellipsis' && el.scrollWidth > el.clientWidth + 1) out.push(describe(el) + ' cuts its text off: ' + el.scrollWidth + ' > ' + el.clientWidth);
  }
  return [...new Set(out)];
})()`;

/** Whether the focused element shows it: an outline or a box-shadow, as computed. */
export const FOCUS_STATE = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body) return { tag: 'body', name: '', visible: false, interactive: false, inMain: false };
  const cs = getComputedStyle(el);
  const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
  const shadow = cs.boxShadow && cs.boxShadow !== 'none';
  const name = el.getAttribute('aria-label') || (el.textContent || '').trim().slice(0, 40) || (el.labels && el.labels[0] ? el.labels[0].textContent.trim() : '');
  return { tag: el.tagName.toLowerCase(), name, visible: Boolean(outline || shadow), interactive: el.matches(${JSON.stringify(INTERACTIVE)}), inMain: Boolean(el.closest('main')) };
})()`;
