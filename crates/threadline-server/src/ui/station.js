// The scan station's loop: one input that keeps focus, a verdict per scan from
// /api/v1/scan/check, undo, and a submit that goes through a queue kept in localStorage. Each
// request of a batch is built once, stored with its Idempotency-Key, and re-sent with the same
// key and body until the server answers, so a batch is recorded exactly once however often the
// Wi-Fi drops. While a request goes unanswered the page says it is offline, keeps the scans
// (unchecked) and the queue, and tries again every few seconds — the browser's own online event
// is not relied on: in a Wi-Fi dead zone the device often stays "online". An answer the server
// could not give (5xx) or a session that ended (401) leaves the queue as it is, to be sent later.
// Where the browser offers a BarcodeDetector and a camera, a button reads codes with the camera;
// each goes through scan(), the path a wedge scanner's Enter takes. Nothing depends on it.
// Hand-written, no dependencies; every text comes from the page (data-*).
(function () {
  'use strict';
  var root = document.getElementById('station');
  if (!root) { return; }
  function $(id) { return document.getElementById(id); }
  var messages = $('messages');
  function msg(code) { return messages.getAttribute('data-' + code) || code; }
  // The API answers in English. The page carries the catalogue's sentence for every error code
  // in its own language (data-err-*): a Chinese reader reads that, an English reader the API's
  // own message, which names the values (the sentence where the API gave none).
  var chinese = (document.documentElement.lang || '').indexOf('zh') === 0;
  function sentence(code, message) {
    var mine = code ? messages.getAttribute('data-err-' + code) : null;
    return (chinese ? (mine || message) : (message || mine)) || code || '';
  }
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute('content') : '';
  var opSelect = $('op');
  var input = $('scan');
  var form = $('context');
  var list = $('scans');
  var result = $('result');
  var STATE = 'threadline.station.v1';
  var QUEUE = 'threadline.queue.v1';
  // The context is remembered per operation: a work order typed for commissioning is not
  // offered to (nor sent with) an assembly.
  var state = load(STATE, { op: '', contexts: {}, scans: [] });
  if (!state.contexts) {
    state.contexts = {};
    if (state.op && state.context) { state.contexts[state.op] = state.context; }
    delete state.context;
  }
  var queue = load(QUEUE, []);
  var flushing = false;
  var checking = [];
  var retryTimer = null;
  var RETRY_MS = 3000;
  var audio = null;
  var beeps = 0;

  function load(key, fallback) {
    try {
      var v = JSON.parse(window.localStorage.getItem(key));
      return v || fallback;
    } catch (e) { return fallback; }
  }
  function save() {
    try {
      window.localStorage.setItem(STATE, JSON.stringify(state));
      window.localStorage.setItem(QUEUE, JSON.stringify(queue));
    } catch (e) { /* private mode: the page still works, without surviving a reload */ }
  }
  function enc(s) { return encodeURIComponent(s); }
  function newKey() {
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    return Array.prototype.map.call(b, function (x) { return ('0' + x.toString(16)).slice(-2); }).join('');
  }

  // --- context -------------------------------------------------------------------------
  function fieldBoxes() { return form.querySelectorAll('.field[data-required]'); }
  function control(box) { return box.querySelector('input,select'); }
  function has(list, op) { return list.split(' ').indexOf(op) >= 0; }
  function showFields() {
    var op = opSelect.value;
    Array.prototype.forEach.call(fieldBoxes(), function (box) {
      var req = has(box.getAttribute('data-required'), op);
      var opt = has(box.getAttribute('data-optional'), op);
      box.hidden = !(req || opt);
      box.classList.toggle('required', req);
      control(box).required = req;
    });
    render();
  }
  function context() {
    var out = {};
    Array.prototype.forEach.call(fieldBoxes(), function (box) {
      if (box.hidden) { return; }
      var c = control(box);
      if (c.type === 'checkbox') { out[c.name] = c.checked; return; }
      if (c.value.trim() !== '') { out[c.name] = c.value.trim(); }
    });
    return out;
  }
  function missingFields() {
    var out = [];
    Array.prototype.forEach.call(fieldBoxes(), function (box) {
      var c = control(box);
      if (!box.hidden && c.required && c.value.trim() === '') {
        out.push(box.querySelector('label').firstChild.textContent);
      }
    });
    return out;
  }
  // Fills every field with what `values` remembers, and the rest as the page drew them.
  function fill(values) {
    Array.prototype.forEach.call(fieldBoxes(), function (box) {
      var c = control(box);
      var v = values[c.name];
      if (c.type === 'checkbox') { c.checked = v === undefined ? c.defaultChecked : !!v; return; }
      if (v !== undefined) { c.value = v; return; }
      if (c.tagName === 'SELECT') {
        var first = c.querySelector('option[selected]') || c.options[0];
        c.value = first ? first.value : '';
      } else {
        c.value = c.defaultValue;
      }
    });
  }
  function restore() {
    if (state.op && opSelect.querySelector('option[value="' + state.op + '"]')) { opSelect.value = state.op; }
    fill(state.contexts[opSelect.value] || {});
  }
  // Keeps the fields of the chosen operation, under that operation.
  function remember() {
    state.op = opSelect.value;
    var ctx = {};
    Array.prototype.forEach.call(fieldBoxes(), function (box) {
      if (box.hidden) { return; }
      var c = control(box);
      ctx[c.name] = c.type === 'checkbox' ? c.checked : c.value;
    });
    state.contexts[state.op] = ctx;
    save();
  }

  // --- feedback ------------------------------------------------------------------------
  function beep() {
    beeps += 1;
    root.setAttribute('data-beeps', String(beeps));
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      audio = audio || new Ctx();
      var osc = audio.createOscillator();
      var gain = audio.createGain();
      osc.type = 'square';
      osc.frequency.value = 880;
      gain.gain.value = 0.08;
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.25);
    } catch (e) { /* no sound device */ }
  }
  function say(kind, text) {
    result.className = 'result ' + kind;
    result.textContent = text;
  }
  function setOnline(on) {
    var net = $('net');
    net.textContent = msg(on ? 'online' : 'offline');
    net.className = 'pill ' + (on ? 'ok' : 'warn');
    root.setAttribute('data-online', on ? 'true' : 'false');
    if (!on) { retrySoon(); }
  }
  // A request that got no usable answer: the network, a gateway, or the session.
  function unanswered(status) {
    var e = new Error('unanswered');
    e.status = status;
    return e;
  }
  function noAnswer(e) {
    if (e && e.status === 401) {
      say('bad', msg('signed-out'));
      retrySoon();
    } else if (e && e.status >= 500) {
      say('bad', msg('server-error'));
      retrySoon();
    } else {
      setOnline(false);
    }
  }
  // While something waits (or the page thinks it is offline), try again in a few seconds.
  function retrySoon() {
    if (retryTimer !== null) { return; }
    retryTimer = window.setTimeout(function () {
      retryTimer = null;
      var waiting = queue.length > 0 || state.scans.some(function (s) { return s.pending; });
      if (waiting) {
        recheck();
        flush();
      } else if (root.getAttribute('data-online') === 'false') {
        fetch('/healthz', { credentials: 'same-origin', cache: 'no-store' })
          .then(function (r) { if (r.ok) { setOnline(true); } else { retrySoon(); } },
            function () { retrySoon(); });
      }
    }, RETRY_MS);
  }
  function unitText(u) { return u ? u.product + ' · ' + u.serial : ''; }
  // Why a scan is (not) taken: the reason, the unit's state, and what the scan parser or the
  // product list said, in the reader's language.
  function whyText(s) {
    if (s.pending) { return msg('unchecked'); }
    var text = msg(s.reason);
    if (s.status && !s.accepted) { text += ' · ' + msg('status-' + s.status); }
    if (!s.accepted && s.detailCode) { text += ' · ' + sentence(s.detailCode, s.detail); }
    return text;
  }

  function render() {
    list.textContent = '';
    var accepted = 0;
    var refused = 0;
    for (var i = state.scans.length - 1; i >= 0; i -= 1) {
      var s = state.scans[i];
      var li = document.createElement('li');
      li.className = s.pending ? 'pending' : (s.accepted ? 'ok' : 'bad');
      var code = document.createElement('span');
      code.className = 'code';
      code.textContent = s.code;
      li.appendChild(code);
      var why = document.createElement('span');
      why.className = 'why';
      why.textContent = whyText(s);
      if (s.detail && !s.pending) { li.title = s.detail; }
      li.appendChild(why);
      if (s.unit) {
        var unit = document.createElement('span');
        unit.className = 'unit';
        unit.textContent = unitText(s.unit);
        li.appendChild(unit);
      }
      list.appendChild(li);
      if (s.pending) { continue; }
      if (s.accepted) { accepted += 1; } else { refused += 1; }
    }
    $('count').textContent = String(accepted);
    $('errors').textContent = String(refused);
    var expected = parseInt(context().expected || '', 10);
    $('expected').textContent = expected > 0 ? ' / ' + expected : '';
    $('count').className = 'count' + (expected > 0 && accepted === expected ? ' done' : '') +
      (expected > 0 && accepted > expected ? ' over' : '');
    var q = $('queue');
    q.hidden = queue.length === 0;
    q.textContent = msg('queued') + ': ' + queue.length;
  }

  // --- scanning ------------------------------------------------------------------------
  function sameUnit(a, b) { return a && b && a.product === b.product && a.serial === b.serial; }
  // What a field path of a refusal names, for the reader: the unit at that place of the request
  // (`lines[0].serials[1]`, `items[2].serial`), or the label of the context field.
  function fieldName(path, body) {
    var parts = path.replace(/\[(\d+)\]/g, '.$1').split('.');
    var v = body;
    var product = null;
    for (var i = 0; i < parts.length && v !== null && typeof v === 'object'; i += 1) {
      if (typeof v.product === 'string') { product = v.product; }
      v = v[parts[i]];
    }
    var last = parts[parts.length - 1];
    if (v && typeof v === 'object' && v.product && v.serial) { return unitText(v); }
    if (typeof v === 'string' && product && (last === 'serial' || /^\d+$/.test(last))) {
      return product + ' · ' + v;
    }
    var c = form.querySelector('[name="' + parts[0] + '"]');
    var label = c && c.id ? form.querySelector('label[for="' + c.id + '"]') : null;
    if (label && parts.length === 1) { return label.firstChild.textContent; }
    return path;
  }
  // The problems of a refusal (the first three), each with what it is about.
  function errorText(body, request) {
    var list = (body && body.errors) || [];
    if (!list.length) {
      var e = body && body.error;
      return e ? sentence(e.code, e.message) : '';
    }
    return list.slice(0, 3).map(function (e) {
      var where = e.field ? fieldName(e.field, request && request.body) : '';
      return (where ? where + ': ' : '') + sentence(e.code, e.message);
    }).join('; ') + (list.length > 3 ? '; …' : '');
  }
  function checkCode(op, code, product) {
    var url = '/api/v1/scan/check?operation=' + enc(op) + '&code=' + enc(code) +
      (product ? '&product=' + enc(product) : '');
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) {
        if (r.status === 401 || r.status >= 500) { throw unanswered(r.status); }
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (r.ok) { return body; }
          var e = (body && body.errors && body.errors[0]) || (body && body.error) || {};
          return { accepted: false, reason: 'unreadable', detail: e.message || '', detail_code: e.code || null };
        });
      });
  }
  function judge(entry) {
    if (checking.indexOf(entry) >= 0) { return Promise.resolve(); }
    checking.push(entry);
    var ctx = context();
    return checkCode(opSelect.value, entry.code, ctx.product).then(function (v) {
      setOnline(true);
      if (state.scans.indexOf(entry) < 0) { return; }
      entry.pending = false;
      entry.unit = v.unit || null;
      entry.status = v.status || null;
      entry.detail = v.detail || '';
      entry.detailCode = v.detail_code || null;
      var dup = v.accepted && state.scans.some(function (o) {
        return o !== entry && o.accepted && sameUnit(o.unit, entry.unit);
      });
      entry.accepted = !!v.accepted && !dup;
      entry.reason = dup ? 'duplicate' : v.reason;
      if (!entry.accepted) {
        beep();
        say('bad', entry.code + ': ' + whyText(entry));
      } else {
        say('ok', unitText(entry.unit));
      }
    }, function (e) {
      // No answer: the scan stays in the list, to be checked when the network is back.
      noAnswer(e);
    }).then(function () {
      checking.splice(checking.indexOf(entry), 1);
      render();
      save();
    });
  }
  function scan(code) {
    var entry = { code: code, accepted: false, reason: 'unchecked', pending: true };
    state.scans.push(entry);
    render();
    save();
    return judge(entry);
  }
  function recheck() {
    state.scans.filter(function (s) { return s.pending; }).forEach(judge);
  }

  // --- submitting ----------------------------------------------------------------------
  function byProduct(units) {
    var lines = [];
    units.forEach(function (u) {
      var line = lines.filter(function (l) { return l.product === u.product; })[0];
      if (!line) { line = { product: u.product, serials: [] }; lines.push(line); }
      line.serials.push(u.serial);
    });
    return lines;
  }
  function pick(ctx, keys) {
    var out = {};
    keys.forEach(function (k) { if (ctx[k] !== undefined) { out[k] = ctx[k]; } });
    return out;
  }
  function resolveParent(code) {
    return fetch('/api/v1/scan?code=' + enc(code), { credentials: 'same-origin' })
      .then(function (r) {
        if (r.status === 401 || r.status >= 500) { throw unanswered(r.status); }
        return r.json().catch(function () { return {}; }).then(function (body) {
          if (r.ok && body.resolved && body.resolved.kind === 'item') {
            return { product: body.resolved.item.product, serial: body.resolved.item.serial };
          }
          throw { refused: errorText(body) || code };
        });
      });
  }
  // The requests of a batch: usually one; repair takes one unit per order.
  function build(op, ctx, units) {
    var path = '/api/v1/ops/' + op;
    var one = function (body) { return Promise.resolve([{ path: path, body: body }]); };
    switch (op) {
      case 'receive':
        return one(Object.assign(pick(ctx, ['supplier', 'purchase_order', 'location', 'inspector']), { lines: byProduct(units) }));
      case 'commission':
        return one(Object.assign(pick(ctx, ['product', 'work_order', 'line', 'station', 'operator']), {
          serials: units.map(function (u) { return u.serial; })
        }));
      case 'assemble':
        return resolveParent(ctx.parent).then(function (parent) {
          return [{ path: path, body: Object.assign(pick(ctx, ['location', 'work_order']), { parent: parent, components: units }) }];
        });
      case 'inspect':
        var body = Object.assign(pick(ctx, ['result', 'inspector', 'location', 'note']), { items: units });
        if (ctx.defect_codes) {
          body.defect_codes = ctx.defect_codes.split(/[,，\s]+/).filter(function (s) { return s; });
        }
        return one(body);
      case 'move':
        return one(Object.assign(pick(ctx, ['from', 'to', 'operator', 'put_away']), { items: units }));
      case 'ship':
        return one(Object.assign(pick(ctx, ['sales_order', 'from', 'customer', 'distributor', 'ship_to_region', 'tracking_number']), { lines: byProduct(units) }));
      case 'return':
        return one(Object.assign(pick(ctx, ['rma', 'customer', 'reason', 'condition', 'outcome', 'location']), { items: units }));
      case 'repair':
        return Promise.resolve(units.map(function (u) {
          return { path: path, body: Object.assign(pick(ctx, ['repair_order', 'fault', 'engineer', 'location', 'completed']), { unit: u }) };
        }));
      default:
        return one(Object.assign(pick(ctx, ['reason', 'location']), { items: units }));
    }
  }
  function submit() {
    var missing = missingFields();
    if (missing.length) {
      beep();
      say('bad', msg('missing') + ': ' + missing.join(', '));
      return;
    }
    var scans = state.scans.filter(function (s) { return s.accepted || s.pending; });
    if (scans.length === 0) {
      say('bad', msg('nothing'));
      return;
    }
    queue.push({
      key: newKey(),
      op: opSelect.value,
      context: context(),
      scans: scans.map(function (s) { return { code: s.code, unit: s.accepted ? s.unit : null }; }),
      requests: null,
      ok: 0,
      errors: []
    });
    state.scans = [];
    save();
    render();
    say('pending', msg('queued'));
    flush();
  }
  function post(r) {
    return fetch(r.path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, 'Idempotency-Key': r.key },
      body: JSON.stringify(r.body)
    }).then(function (resp) {
      return resp.json().catch(function () { return {}; }).then(function (body) {
        return { status: resp.status, body: body };
      });
    });
  }
  function report(batch) {
    if (batch.errors.length) {
      beep();
      say('bad', msg('refused') + ': ' + batch.errors.join('; '));
    } else {
      say('ok', msg('submitted') + ': ' + batch.count);
    }
  }
  // Sends the queue in order. A lost answer leaves the request at the head of its batch, to be
  // sent again with the same key and body; the server answers a repeat with the first result.
  function flush() {
    if (flushing || queue.length === 0) { return Promise.resolve(); }
    flushing = true;
    var batch = queue[0];
    var prepared = batch.requests ? Promise.resolve() : prepare(batch);
    return prepared.then(function () {
      return sendAll(batch);
    }).then(function () {
      queue.shift();
      save();
      report(batch);
      flushing = false;
      render();
      return flush();
    }, function (e) {
      flushing = false;
      if (e && e.refused !== undefined) {
        queue.shift();
        save();
        beep();
        say('bad', msg('refused') + ': ' + e.refused);
        render();
        return flush();
      }
      noAnswer(e);
      render();
    });
  }
  function prepare(batch) {
    var unchecked = batch.scans.filter(function (s) { return !s.unit && !s.refused; });
    return Promise.all(unchecked.map(function (s) {
      return checkCode(batch.op, s.code, batch.context.product).then(function (v) {
        if (v.accepted) {
          s.unit = v.unit;
        } else {
          s.refused = v.reason;
          s.why = whyText({ reason: v.reason, status: v.status, detail: v.detail, detailCode: v.detail_code });
        }
      });
    })).then(function () {
      batch.errors = batch.scans.filter(function (s) { return s.refused; })
        .map(function (s) { return s.code + ': ' + (s.why || msg(s.refused)); });
      var units = batch.scans.filter(function (s) { return s.unit; }).map(function (s) { return s.unit; });
      batch.count = units.length;
      if (units.length === 0) { batch.requests = []; save(); return; }
      return build(batch.op, batch.context, units).then(function (requests) {
        batch.requests = requests.map(function (r, i) {
          r.key = requests.length > 1 ? batch.key + '.' + i : batch.key;
          return r;
        });
        save();
      });
    });
  }
  function sendAll(batch) {
    if (batch.requests.length === 0) { return Promise.resolve(); }
    return post(batch.requests[0]).then(function (answer) {
      if (answer.status === 401 || answer.status >= 500) {
        // Not an answer about the batch: send the same request again later. Had the server
        // recorded it, the key makes it answer the repeat with the first receipts.
        throw unanswered(answer.status);
      }
      setOnline(true);
      if (answer.status >= 300) {
        batch.errors.push(errorText(answer.body, batch.requests[0]) || String(answer.status));
      }
      batch.requests.shift();
      save();
      return sendAll(batch);
    });
  }

  // --- camera (progressive enhancement) -------------------------------------------------
  // The same label stays in view for a while: a code read again within this time is the same
  // scan, not a second one.
  var SAME_LABEL_MS = 2500;
  var CAMERA_FORMATS = ['data_matrix', 'qr_code', 'code_128', 'ean_13', 'ean_8', 'upc_a', 'upc_e', 'code_39', 'itf'];
  function setupCamera() {
    var button = $('camera');
    var panel = $('camera-panel');
    var video = $('camera-video');
    if (!button || !panel || !video) { return; }
    if (!('BarcodeDetector' in window) || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return;
    }
    var detector = null;
    var stream = null;
    var timer = null;
    var last = '';
    var lastAt = 0;
    button.hidden = false;
    function label(on) {
      button.textContent = msg(on ? 'camera-stop' : 'camera-start');
      button.setAttribute('aria-pressed', on ? 'true' : 'false');
    }
    function stop() {
      if (timer !== null) { window.clearTimeout(timer); timer = null; }
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
      stream = null;
      video.srcObject = null;
      panel.hidden = true;
      label(false);
    }
    function read(codes) {
      var now = Date.now();
      (codes || []).forEach(function (c) {
        var code = String(c.rawValue || '').trim();
        if (!code) { return; }
        var again = code === last && now - lastAt < SAME_LABEL_MS;
        last = code;
        lastAt = now;
        if (!again) { scan(code); }
      });
    }
    function tick() {
      timer = null;
      if (!stream) { return; }
      detector.detect(video).then(read, function () { /* a frame it could not read */ })
        .then(function () { if (stream) { timer = window.setTimeout(tick, 150); } });
    }
    function start() {
      var supported = typeof window.BarcodeDetector.getSupportedFormats === 'function'
        ? window.BarcodeDetector.getSupportedFormats() : Promise.resolve([]);
      Promise.resolve(supported).then(function (have) {
        var formats = CAMERA_FORMATS.filter(function (f) { return have.indexOf(f) >= 0; });
        detector = formats.length ? new window.BarcodeDetector({ formats: formats }) : new window.BarcodeDetector();
        return navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      }).then(function (s) {
        stream = s;
        video.srcObject = s;
        panel.hidden = false;
        label(true);
        return video.play();
      }).then(tick, function () {
        stop();
        beep();
        say('bad', msg('camera-failed'));
      });
    }
    button.addEventListener('click', function () {
      if (stream) { stop(); input.focus(); } else { start(); }
    });
    label(false);
  }

  // --- wiring --------------------------------------------------------------------------
  input.addEventListener('keydown', function (e) {
    if (e.key !== 'Enter') { return; }
    e.preventDefault();
    var code = input.value.trim();
    input.value = '';
    if (code) { scan(code); }
  });
  $('undo').addEventListener('click', function () {
    var last = state.scans.pop();
    if (last) { say('pending', msg('undone') + ': ' + last.code); }
    render();
    save();
    input.focus();
  });
  $('clear').addEventListener('click', function () {
    state.scans = [];
    render();
    save();
    input.focus();
  });
  $('submit').addEventListener('click', function () { submit(); input.focus(); });
  opSelect.addEventListener('change', function () {
    // Another operation: its own context, none of the last one's.
    fill(state.contexts[opSelect.value] || {});
    showFields();
    remember();
    input.focus();
  });
  form.addEventListener('change', function () { remember(); render(); });
  form.addEventListener('keydown', function (e) {
    // Enter in a context field moves on to scanning instead of submitting the form.
    if (e.key === 'Enter') { e.preventDefault(); input.focus(); }
  });
  window.addEventListener('online', function () { setOnline(true); recheck(); flush(); });
  window.addEventListener('offline', function () { setOnline(false); });

  restore();
  setupCamera();
  showFields();
  render();
  recheck();
  flush();
  input.focus();
}());
