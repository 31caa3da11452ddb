// Small DOM helpers: element builder, loading/error states, toasts, dialogs, copy to clipboard.
import { apiDetail, humanMessage } from './messages.js';

/** h('button', { class: 'primary', onclick }, 'Save') → element. Strings become text (never HTML). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node makes screen readers repeat an identical message.
  setTimeout(() => (region.textContent = message), 30);
}

/** A visible confirmation (a toast) that screen readers also announce (role=status). */
export function toast(message) {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.append(region);
  }
  const el = h('div', { class: 'toast' }, message);
  region.append(el);
  // The latest few only: a stack of old confirmations would cover the page.
  while (region.children.length > 2) region.firstElementChild.remove();
  setTimeout(() => el.remove(), 6000);
  return el;
}

/** An error for people; an ApiError also gets the API's own message in a disclosure. */
export function errorBox(errOrMessage, context) {
  if (typeof errOrMessage === 'string')
    return h('div', { class: 'error', role: 'alert' }, h('p', {}, errOrMessage));
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', {}, humanMessage(errOrMessage, context)),
    h(
      'details',
      {},
      h('summary', {}, 'Details'),
      h('code', { class: 'api-detail' }, apiDetail(errOrMessage)),
    ),
  );
}

/** Fills `container` with a loading state, then fn()'s result; on failure an error with a Retry button. */
export async function loadInto(container, label, fn) {
  container.setAttribute('aria-busy', 'true');
  container.replaceChildren(h('p', { class: 'loading', role: 'status' }, `Loading ${label}…`));
  try {
    const content = await fn();
    container.replaceChildren(...[content].flat().filter(Boolean));
  } catch (err) {
    const box = errorBox(err);
    box.querySelector('p').textContent = `Could not load ${label}. ${humanMessage(err)}`;
    container.replaceChildren(
      box,
      h('button', { type: 'button', onclick: () => loadInto(container, label, fn) }, 'Retry'),
    );
  } finally {
    container.removeAttribute('aria-busy');
  }
}

/**
 * Runs an action from a button: disables it while pending, shows the API's message in `errorSlot`
 * on failure. Returns the result, or undefined after a failure.
 */
export async function act(button, errorSlot, fn, busyText, context) {
  const label = button ? button.textContent : '';
  if (button) {
    button.disabled = true;
    if (busyText) button.textContent = busyText;
  }
  if (errorSlot) errorSlot.replaceChildren();
  try {
    return await fn();
  } catch (err) {
    if (errorSlot) errorSlot.replaceChildren(errorBox(err, context));
    else announce(humanMessage(err, context));
    return undefined;
  } finally {
    if (button && button.isConnected) {
      button.disabled = false;
      if (busyText) button.textContent = label;
    }
  }
}

function openDialog(dialog, returnFocus) {
  document.body.append(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (returnFocus && returnFocus.isConnected) returnFocus.focus();
  });
  dialog.showModal();
}

/** A modal question; resolves true when confirmed. Escape or Cancel resolve false. Focus returns. */
export function confirmDialog({ title, message, confirmLabel = 'Confirm', danger = true, extra = null }) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    let result = false;
    const dialog = h(
      'dialog',
      { 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title),
      h('p', {}, message),
      extra,
      h(
        'div',
        { class: 'row spaced' },
        h(
          'button',
          {
            type: 'button',
            class: danger ? 'danger solid' : 'primary',
            onclick: () => {
              result = true;
              dialog.close();
            },
          },
          confirmLabel,
        ),
        h('button', { type: 'button', autofocus: true, onclick: () => dialog.close() }, 'Cancel'),
      ),
    );
    dialog.addEventListener('close', () => resolve(result));
    openDialog(dialog, opener);
  });
}

/** Shows a new API key's token once, with a copy button and a warning. */
export function tokenDialog(token, name, { title } = {}) {
  const opener = document.activeElement;
  const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
  const input = h('input', { id: 'new-token', class: 'token', readonly: true, value: token });
  const status = h('span', { role: 'status', class: 'success' });
  const dialog = h(
    'dialog',
    { 'aria-labelledby': titleId, class: 'token-dialog' },
    h('h2', { id: titleId }, title || `API key “${name}” created`),
    h(
      'p',
      { class: 'warning', id: 'token-warning' },
      'Copy this key now and store it somewhere safe. It is shown only this once: nobody, not even an admin, can see it again.',
    ),
    h('label', { for: 'new-token' }, 'API key'),
    input,
    h(
      'div',
      { class: 'row spaced' },
      h('button', { type: 'button', class: 'primary', onclick: () => copyText(token, status) }, 'Copy key'),
      status,
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', onclick: () => dialog.close() }, 'I have stored the key'),
    ),
  );
  openDialog(dialog, opener);
  input.focus();
  input.select();
  return dialog;
}

export async function copyText(text, statusEl) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    // Fallback for browsers without the async clipboard (or without permission).
    const ta = h('textarea', { 'aria-hidden': 'true', class: 'visually-hidden' }, text);
    document.body.append(ta);
    ta.select();
    ok = document.execCommand('copy');
    ta.remove();
  }
  const message = ok ? 'Copied to the clipboard.' : 'Could not copy: select the text and copy it by hand.';
  if (statusEl) statusEl.textContent = message;
  announce(message);
  return ok;
}

export function time(iso) {
  if (!iso) return h('span', {}, 'never');
  const d = new Date(iso);
  const text = Number.isNaN(d.getTime())
    ? iso
    : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  return h('time', { datetime: iso, title: iso }, text);
}

/** A table that becomes stacked cards at phone width (labels come from the headers). */
export function table(caption, headers, rows) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'responsive' },
      h('caption', { class: 'visually-hidden' }, caption),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          headers.map((x) => h('th', { scope: 'col' }, x)),
        ),
      ),
      h(
        'tbody',
        {},
        rows.map((cells) =>
          h(
            'tr',
            {},
            cells.map((c, i) =>
              h(
                'td',
                { 'data-label': headers[i], class: headers[i] === 'Actions' ? 'actions' : undefined },
                c,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * A modal form with one text field (e.g. rename). Resolves the trimmed value, or null when
 * cancelled. `submit(value, errorSlot)` may refuse by returning false (the dialog stays open).
 */
export function promptDialog({
  title,
  label,
  value = '',
  confirmLabel = 'Save',
  hint = '',
  maxlength = 64,
  submit,
}) {
  const opener = document.activeElement;
  return new Promise((resolve) => {
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const inputId = `${titleId}-input`;
    const errors = h('div', {});
    let result = null;
    const input = h('input', {
      id: inputId,
      value,
      maxlength: String(maxlength),
      required: true,
      autocomplete: 'off',
    });
    const form = h(
      'form',
      { class: 'stack', novalidate: true },
      h('div', {}, h('label', { for: inputId }, label), input, hint ? h('p', { class: 'hint' }, hint) : null),
      errors,
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'submit', class: 'primary' }, confirmLabel),
        h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel'),
      ),
    );
    const dialog = h('dialog', { 'aria-labelledby': titleId }, h('h2', { id: titleId }, title), form);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const v = input.value.trim();
      if (!v) {
        errors.replaceChildren(errorBox(`Enter ${label.toLowerCase()}.`));
        input.focus();
        return;
      }
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      const ok = submit ? await submit(v, errors) : true;
      if (button.isConnected) button.disabled = false;
      if (ok === false) return;
      result = v;
      dialog.close();
    });
    dialog.addEventListener('close', () => resolve(result));
    openDialog(dialog, opener);
    input.focus();
    input.select();
  });
}
