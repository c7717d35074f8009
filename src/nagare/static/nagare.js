/* Nagare XHR client: no dependency, no build step (ES2017).
 *
 * Links and submit buttons marked `data-nagare-async` (by an asynchronous renderer) are sent with
 * fetch, adding `_a=1`: a link GETs its href, a submit button POSTs its form (its own name added).
 * A field whose action is an `ajax.Update` has `data-nagare-async="<url>"` (the session parameters
 * in its query): when it changes, its value alone is POSTed there, with `_a=1`.
 * The JSON answer (see nagare/ajax.py) is applied in place:
 *   {"updates": [{"id", "mode": "outer"|"inner", "html"}],
 *    "head": {"css": [[name, text]], "css_url": [url], "js": [[name, text]], "js_url": [url]},
 *    "reload": url-or-null}
 * Any other answer: an HTML page (an error page) replaces the document, otherwise the page reloads.
 * In debug mode, a failing action answers the debugger's page: written in place, the document keeps
 * its URL, against which the debugger's `?__debugger__=yes&cmd=…` requests resolve.
 */
(() => {
  'use strict';

  const ASYNC = 'data-nagare-async';
  const NAME = 'data-nagare-name';
  let clicked = null; // the last submit button clicked, for browsers without event.submitter

  const absolute = (url) => new URL(url, document.baseURI).href;
  const present = (selector, attribute) =>
    new Set(Array.from(document.querySelectorAll(selector), (e) => absolute(e.getAttribute(attribute))));

  // Scripts inserted through innerHTML or a template do not run: replace each by a fresh copy.
  function runScripts(node) {
    if (node.nodeType !== Node.ELEMENT_NODE) return;
    const scripts = node.matches('script') ? [node] : Array.from(node.querySelectorAll('script'));
    for (const old of scripts) {
      const script = document.createElement('script');
      for (const attribute of Array.from(old.attributes)) script.setAttribute(attribute.name, attribute.value);
      script.textContent = old.textContent;
      old.replaceWith(script);
    }
  }

  function addToHead(tag, attributes, text) {
    const element = document.createElement(tag);
    for (const name of Object.keys(attributes)) element.setAttribute(name, attributes[name]);
    if (text !== undefined) element.textContent = text;
    const loaded = new Promise((resolve) => {
      element.onload = element.onerror = resolve;
    });
    document.head.appendChild(element);
    return tag === 'script' && attributes.src ? loaded : Promise.resolve();
  }

  function update(change) {
    const element = document.getElementById(change.id);
    if (!element) return;
    if (change.mode === 'inner') {
      element.innerHTML = change.html;
      runScripts(element);
      return;
    }
    const template = document.createElement('template');
    template.innerHTML = change.html;
    const nodes = Array.from(template.content.childNodes);
    element.replaceWith(...nodes);
    nodes.forEach(runScripts);
  }

  async function apply(answer) {
    if (answer.reload) {
      window.location.href = answer.reload;
      return;
    }
    const head = answer.head || {};
    const names = new Set(Array.from(document.querySelectorAll('[' + NAME + ']'), (e) => e.getAttribute(NAME)));
    const styles = present('link[rel~="stylesheet"][href]', 'href');
    for (const url of head.css_url || []) {
      if (!styles.has(absolute(url))) addToHead('link', { rel: 'stylesheet', href: url });
    }
    for (const [name, text] of head.css || []) {
      if (!names.has(name)) addToHead('style', { [NAME]: name }, text);
    }
    (answer.updates || []).forEach(update);
    const scripts = present('script[src]', 'src');
    for (const url of head.js_url || []) {
      if (!scripts.has(absolute(url))) await addToHead('script', { src: url }); // in order
    }
    for (const [name, text] of head.js || []) {
      if (!names.has(name)) addToHead('script', { [NAME]: name }, text);
    }
  }

  async function send(url, init) {
    let response;
    try {
      response = await fetch(url, Object.assign({
        credentials: 'same-origin',
        headers: { 'X-Requested-With': 'XMLHttpRequest', Accept: 'application/json' },
      }, init));
    } catch (error) {
      window.location.reload();
      return;
    }
    const type = response.headers.get('Content-Type') || '';
    if (response.ok && type.includes('json')) {
      let answer = null;
      try {
        answer = await response.json();
      } catch (error) {
        answer = null;
      }
      if (answer) {
        await apply(answer);
        return;
      }
    } else if (response.ok && response.redirected) {
      window.location.href = response.url;
      return;
    } else if (type.includes('html')) {
      const html = await response.text();
      document.open();
      document.write(html);
      document.close();
      return;
    }
    window.location.reload();
  }

  document.addEventListener('click', (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target || event.defaultPrevented || event.button !== 0) return;
    const button = target.closest('button, input[type="submit"], input[type="image"]');
    if (button && button.form) clicked = button;
    const link = target.closest('a[' + ASYNC + '][href]');
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    const url = new URL(link.href);
    url.searchParams.append('_a', '1');
    send(url.href, { method: 'GET' });
  });

  // A field with an Update: its own value only, not its form's (Nagare 0.5 did the same).
  document.addEventListener('change', (event) => {
    const field = event.target instanceof Element ? event.target : null;
    if (!field || !field.name || !field.matches('input[' + ASYNC + '], select[' + ASYNC + '], textarea[' + ASYNC + ']')) return;
    const url = field.getAttribute(ASYNC);
    if (!url) return; // a submit button: sent with its form
    const data = new FormData();
    if (field.type === 'file') {
      for (const file of Array.from(field.files)) data.append(field.name, file);
    } else if (field.type === 'checkbox' || field.type === 'radio') {
      if (field.checked) data.append(field.name, field.value);
    } else if (field.tagName === 'SELECT') {
      for (const option of Array.from(field.selectedOptions)) data.append(field.name, option.value);
    } else {
      data.append(field.name, field.value);
    }
    data.append('_a', '1');
    send(new URL(url, document.baseURI).href, { method: 'POST', body: data });
  });

  // A click on a submit button, as Enter in a field, submits the form: its submitter decides.
  document.addEventListener('submit', (event) => {
    const form = event.target;
    const button = event.submitter || (clicked && clicked.form === form ? clicked : null);
    clicked = null;
    if (event.defaultPrevented || !button || !button.hasAttribute(ASYNC)) return;
    event.preventDefault();
    const data = new FormData(form);
    if (button.name) {
      if (button.type === 'image') {
        data.append(button.name + '.x', '0');
        data.append(button.name + '.y', '0');
      } else {
        data.append(button.name, button.value);
      }
    }
    data.append('_a', '1');
    const url = new URL(form.getAttribute('action') || '', document.baseURI);
    if ((form.getAttribute('method') || 'get').toLowerCase() === 'get') {
      for (const [name, value] of data) if (typeof value === 'string') url.searchParams.append(name, value);
      send(url.href, { method: 'GET' });
    } else {
      send(url.href, { method: 'POST', body: data });
    }
  });
})();
