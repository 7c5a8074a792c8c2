// Folds and unfolds the trace graph: a node's toggle hides everything reached through it, and
// the tree is laid out again one row per visible node. Hand-written, no dependencies.
(function () {
  'use strict';
  var svg = document.getElementById('trace-graph');
  if (!svg) { return; }
  var ROW = Number(svg.getAttribute('data-row'));
  var COL = Number(svg.getAttribute('data-col'));
  var W = Number(svg.getAttribute('data-box-w'));
  var H = Number(svg.getAttribute('data-box-h'));
  var nodes = Array.prototype.slice.call(svg.querySelectorAll('g.node'));
  var edges = Array.prototype.slice.call(svg.querySelectorAll('path.edge'));
  var byId = {};
  nodes.forEach(function (n) { byId[n.getAttribute('data-id')] = n; });
  var collapsed = {};

  function hidden(n) {
    var p = n.getAttribute('data-parent');
    for (var guard = 0; p && byId[p] && guard < 200; guard += 1) {
      if (collapsed[p]) { return true; }
      p = byId[p].getAttribute('data-parent');
    }
    return false;
  }
  function layout() {
    var row = 0;
    var pos = {};
    nodes.forEach(function (n) {
      var gone = hidden(n);
      n.classList.toggle('gone', gone);
      if (gone) { return; }
      var x = 10 + Number(n.getAttribute('data-col')) * COL;
      var y = 10 + row * ROW;
      pos[n.getAttribute('data-id')] = { x: x, y: y };
      n.setAttribute('transform', 'translate(' + x + ',' + y + ')');
      var sign = n.querySelector('.toggle text');
      if (sign) { sign.textContent = collapsed[n.getAttribute('data-id')] ? '+' : '\u2212'; }
      row += 1;
    });
    edges.forEach(function (e) {
      var a = pos[e.getAttribute('data-from')];
      var b = pos[e.getAttribute('data-to')];
      e.classList.toggle('gone', !a || !b);
      if (!a || !b) { return; }
      var x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      e.setAttribute('d', 'M' + x1 + ' ' + y1 + ' C' + mx + ' ' + y1 + ' ' + mx + ' ' + y2 + ' ' + x2 + ' ' + y2);
    });
    svg.setAttribute('height', String(20 + row * ROW));
    svg.setAttribute('data-visible', String(row));
  }
  function toggle(target) {
    var t = target.closest ? target.closest('.toggle') : null;
    if (!t) { return; }
    var node = t.parentNode;
    var id = node.getAttribute('data-id');
    collapsed[id] = !collapsed[id];
    node.classList.toggle('collapsed', collapsed[id]);
    layout();
  }
  svg.addEventListener('click', function (e) { toggle(e.target); });
  svg.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(e.target); }
  });
  // A large trace opens folded below its first level.
  if (nodes.length > 80) {
    nodes.forEach(function (n) {
      if (Number(n.getAttribute('data-col')) >= 1 && n.querySelector('.toggle')) {
        collapsed[n.getAttribute('data-id')] = true;
        n.classList.add('collapsed');
      }
    });
  }
  layout();
}());
