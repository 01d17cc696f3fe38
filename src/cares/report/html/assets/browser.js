// The sample browser. Every value from the data block goes into the page through textContent or
// option.text, never as markup, so model outputs stay inert text whatever they contain.
(function () {
  "use strict";
  var node = document.getElementById("cares-samples");
  var root = document.getElementById("browser");
  if (!node || !root) { return; }
  var data = JSON.parse(node.textContent);
  var col = {};
  data.columns.forEach(function (name, i) { col[name] = i; });
  var PAGE = 100;
  var limit = PAGE;
  var filters = [["run", "run"], ["label", "label"], ["level", "harm level"], ["style", "style"],
                 ["task", "task"], ["source", "dataset"], ["outcome", "outcome"], ["status", "status"]];
  var controls = {};
  var bar = root.querySelector(".filters");
  var body = document.querySelector("#samples tbody");
  var count = document.getElementById("sample-count");
  var more = document.getElementById("sample-more");

  function cell(row, name) { return row[col[name]]; }
  function text(index) { return data.strings[index]; }
  function runName(i) { return data.runs[i].model; }

  // A one-line preview: cut at a word boundary, and an ellipsis says it was cut.
  function preview(value, limit) {
    if (value.length <= limit) { return value; }
    var cut = value.slice(0, limit);
    var space = cut.search(/\s\S*$/);
    return (space > limit * 0.6 ? cut.slice(0, space) : cut).replace(/[\s,;:.\-]+$/, "") + "\u2026";
  }

  function el(tag, content, cls) {
    var e = document.createElement(tag);
    if (content !== undefined && content !== null) { e.textContent = String(content); }
    if (cls) { e.className = cls; }
    return e;
  }

  filters.forEach(function (f) {
    var values = {};
    data.rows.forEach(function (row) { var v = cell(row, f[0]); if (v !== "" && v !== undefined) { values[v] = true; } });
    // Runs stay in the order they were given (0, 1, ..., 10), not in the text order of their indices.
    var keys = Object.keys(values).sort(f[0] === "run" ? function (x, y) { return x - y; } : undefined);
    if (keys.length < 2) { return; }
    var label = el("label", f[1]);
    var select = document.createElement("select");
    select.setAttribute("data-filter", f[0]);
    select.appendChild(new Option("all", ""));
    keys.forEach(function (k) { select.appendChild(new Option(f[0] === "run" ? runName(Number(k)) : k, k)); });
    select.addEventListener("change", function () { limit = PAGE; render(); });
    label.appendChild(select);
    bar.appendChild(label);
    controls[f[0]] = select;
  });
  var searchLabel = el("label", "text contains");
  var search = document.createElement("input");
  search.type = "search";
  search.setAttribute("data-filter", "text");
  search.addEventListener("input", function () { limit = PAGE; render(); });
  searchLabel.appendChild(search);
  bar.appendChild(searchLabel);

  function matches(row) {
    for (var name in controls) {
      var want = controls[name].value;
      if (want !== "" && String(cell(row, name)) !== want) { return false; }
    }
    var q = search.value.toLowerCase();
    if (q) {
      var hay = (text(cell(row, "prompt")) + " " + text(cell(row, "response")) + " " + cell(row, "id")).toLowerCase();
      if (hay.indexOf(q) < 0) { return false; }
    }
    return true;
  }

  function block(parent, title, value) {
    if (!value) { return; }
    parent.appendChild(el("div", title, "k"));
    parent.appendChild(el("pre", value));
  }

  function render() {
    var shown = 0, matching = 0;
    var fragment = document.createDocumentFragment();
    data.rows.forEach(function (row) {
      if (!matches(row)) { return; }
      matching += 1;
      if (shown >= limit) { return; }
      shown += 1;
      var tr = el("tr", null, "sample " + cell(row, "outcome") + " " + cell(row, "status"));
      tr.appendChild(el("td", data.runs.length > 1 ? runName(cell(row, "run")) : cell(row, "id")));
      var slice = [cell(row, "task"), cell(row, "style"), cell(row, "level") !== "" && cell(row, "level") !== undefined ? "level " + cell(row, "level") : "",
                   cell(row, "source")].filter(function (v) { return v && v !== "main"; }).join(" · ");
      tr.appendChild(el("td", slice));
      tr.appendChild(el("td", cell(row, "label")));
      tr.appendChild(el("td", cell(row, "outcome") + (cell(row, "status") !== "scored" ? " (" + cell(row, "status") + ")" : "")));
      var td = el("td", null, "text");
      var details = document.createElement("details");
      details.appendChild(el("summary", preview(text(cell(row, "prompt")), 140)));
      if (data.runs.length > 1) { block(details, "item", cell(row, "id")); }
      block(details, "prompt", text(cell(row, "prompt")));
      block(details, "response", text(cell(row, "response")));
      block(details, "judgement", text(cell(row, "judgement")));
      block(details, "guard", cell(row, "guard"));
      td.appendChild(details);
      tr.appendChild(td);
      fragment.appendChild(tr);
    });
    while (body.firstChild) { body.removeChild(body.firstChild); }
    body.appendChild(fragment);
    count.textContent = "showing " + shown + " of " + matching + " matching items (" + data.rows.length +
      " in this page, " + data.total + " in the runs)";
    more.hidden = shown >= matching;
  }
  more.addEventListener("click", function () { limit += PAGE; render(); });
  window.addEventListener("beforeprint", function () {
    body.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  render();
}());
