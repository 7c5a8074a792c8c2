// The label template form's live preview: as the definition or a sample value changes, the
// template is sent to the API's preview (POST /api/v1/label-templates/preview, SVG) and the
// drawing replaces the one on the page; a refusal lists its problems instead. Hand-written,
// no dependencies; without it the form's "Preview" button does the same through the server.
(function () {
  'use strict';
  var form = document.getElementById('label-template');
  var target = document.getElementById('label-preview');
  var problems = document.getElementById('preview-errors');
  if (!form || !target || !problems) { return; }
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';
  var definition = document.getElementById('definition');
  var timer = null;
  var asked = 0;

  function showProblems(errors, fallback) {
    problems.textContent = '';
    var list = document.createElement('ul');
    list.className = 'bad';
    (errors.length ? errors : [{ message: fallback }]).forEach(function (e) {
      var li = document.createElement('li');
      if (e.field) {
        var code = document.createElement('code');
        code.textContent = e.field;
        li.appendChild(code);
        li.appendChild(document.createTextNode(': '));
      }
      li.appendChild(document.createTextNode(e.message || ''));
      list.appendChild(li);
    });
    problems.appendChild(list);
  }

  function refresh() {
    var template;
    try {
      template = JSON.parse(definition.value);
    } catch (e) {
      showProblems([{ field: 'definition', message: String(e.message || e) }], '');
      return;
    }
    var data = {};
    Array.prototype.forEach.call(form.querySelectorAll('input.sample'), function (i) {
      if (i.value.trim() !== '') { data[i.name.replace(/^data\./, '')] = i.value.trim(); }
    });
    asked += 1;
    var mine = asked;
    fetch('/api/v1/label-templates/preview', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: JSON.stringify({ template: template, data: data, format: 'svg' })
    }).then(function (r) {
      return r.text().then(function (body) { return { ok: r.ok, body: body }; });
    }).then(function (r) {
      if (mine !== asked) { return; }
      if (!r.ok) {
        var errors = [];
        var message = '';
        try {
          var parsed = JSON.parse(r.body);
          errors = parsed.errors || [];
          message = parsed.error && parsed.error.message;
        } catch (e) { message = r.body; }
        showProblems(errors, message);
        return;
      }
      var doc = new DOMParser().parseFromString(r.body, 'image/svg+xml');
      var svg = doc.documentElement;
      if (!svg || svg.nodeName !== 'svg') { return; }
      problems.textContent = '';
      target.textContent = '';
      target.appendChild(document.importNode(svg, true));
      target.setAttribute('data-refreshed', String(mine));
    }).catch(function (e) { showProblems([], String(e)); });
  }

  function later() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(refresh, 300);
  }
  definition.addEventListener('input', later);
  Array.prototype.forEach.call(form.querySelectorAll('input.sample'), function (i) {
    i.addEventListener('input', later);
  });
})();
