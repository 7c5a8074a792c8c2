// The serial rule form's live preview: as the rule's fields or the sample product and line
// change, the rule is sent to the API's preview (POST /api/v1/serial-rules/preview) and the
// next five serials it would give are listed; a refusal lists its problems instead. Nothing is
// reserved. Hand-written, no dependencies; without it the form still saves and the API checks.
(function () {
  'use strict';
  var form = document.getElementById('record');
  var list = document.getElementById('rule-preview');
  var problems = document.getElementById('rule-preview-errors');
  if (!form || !list || !problems) { return; }
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';
  var timer = null;
  var asked = 0;

  function value(name) {
    var el = form.querySelector('[name="' + name + '"]');
    return el ? el.value.trim() : '';
  }

  function showProblems(errors) {
    list.textContent = '';
    problems.textContent = '';
    var ul = document.createElement('ul');
    ul.className = 'bad';
    errors.forEach(function (e) {
      var li = document.createElement('li');
      if (e.field) {
        var code = document.createElement('code');
        code.textContent = e.field;
        li.appendChild(code);
        li.appendChild(document.createTextNode(': '));
      }
      li.appendChild(document.createTextNode(e.message || ''));
      ul.appendChild(li);
    });
    problems.appendChild(ul);
  }

  function refresh() {
    var rule = { code: value('code') || 'PREVIEW', template: value('template') };
    if (rule.template === '') { list.textContent = ''; problems.textContent = ''; return; }
    if (value('time_zone') !== '') { rule.time_zone = value('time_zone'); }
    if (value('sequence_reset') !== '') { rule.sequence_reset = value('sequence_reset'); }
    if (value('uniqueness') !== '') { rule.uniqueness = value('uniqueness'); }
    var start = value('sequence_start');
    if (start !== '') {
      if (!/^[0-9]+$/.test(start)) { showProblems([{ field: 'sequence_start', message: start }]); return; }
      rule.sequence_start = Number(start);
    }
    var context = { product: (document.getElementById('sample-product') || {}).value || 'SAMPLE' };
    var line = (document.getElementById('sample-line') || {}).value;
    if (line) { context.line = line.trim(); }
    asked += 1;
    var mine = asked;
    fetch('/api/v1/serial-rules/preview', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ rule: rule, context: context, count: 5 })
    }).then(function (r) {
      return r.json().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (r) {
      if (mine !== asked) { return; }
      if (!r.ok) {
        showProblems((r.body && r.body.errors) || [{ message: String(r.body && r.body.error && r.body.error.message) }]);
        return;
      }
      problems.textContent = '';
      list.textContent = '';
      (r.body.serials || []).forEach(function (s) {
        var li = document.createElement('li');
        var code = document.createElement('code');
        code.textContent = s;
        li.appendChild(code);
        list.appendChild(li);
      });
    }).catch(function () { /* offline: the saved form is still checked by the API */ });
  }

  form.addEventListener('input', function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 250);
  });
  form.addEventListener('change', function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 50);
  });
  refresh();
}());
