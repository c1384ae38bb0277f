// fcov serve: the what-if page. Every name from the data is inserted as text (textContent) or escaped
// before it reaches Leaflet's HTML tooltips; nothing from the server is evaluated as markup.
(function () {
  "use strict";

  var state = { study: null, standard: null, scenarioStandards: {}, stations: [], suggestions: [], nextId: 1,
    sent: 0, applied: 0, layers: {}, last: null };
  var map = null;

  function esc(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text != null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function num(value, digits) {
    if (value == null || isNaN(value)) return "—";
    return Number(value).toLocaleString("en-US", { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 });
  }
  function message(text, ok) {
    var box = $("message");
    box.textContent = text || "";
    box.className = "message" + (ok ? " ok" : "");
  }
  function detailText(body) {
    if (!body) return "error";
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail.map(function (d) { return (d.loc || []).join(".") + ": " + d.msg; }).join("\n");
    }
    return JSON.stringify(body);
  }
  function api(method, path, body) {
    var init = { method: method, headers: {} };
    if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
    return fetch(path, init).then(function (resp) {
      if (resp.ok) return resp;
      return resp.json().catch(function () { return null; }).then(function (b) {
        var err = new Error(detailText(b) || resp.statusText);
        err.status = resp.status;
        throw err;
      });
    });
  }

  // ------------------------------------------------------------------ loading status
  function pollStatus() {
    api("GET", "/api/status").then(function (r) { return r.json(); }).then(function (s) {
      var list = $("steps");
      list.textContent = "";
      s.steps.forEach(function (step) {
        var text = step.name + (step.total ? " " + step.done + "/" + step.total : "");
        list.appendChild(el("li", text, step.state));
      });
      if (s.state === "ready") {
        $("status").textContent = "已加载 loaded in " + s.seconds + " s";
        init();
      } else if (s.state === "error") {
        $("status").textContent = "加载失败 loading failed: " + s.error;
        document.body.dataset.state = "error";
      } else {
        $("status").textContent = "加载中 loading… " + s.seconds + " s";
        setTimeout(pollStatus, 400);
      }
    }).catch(function () { setTimeout(pollStatus, 1000); });
  }

  // ------------------------------------------------------------------ the map
  function colour(pct) {
    if (pct == null) return "#bdbdbd";
    if (pct >= 99.95) return "#1a9850";
    if (pct >= 95) return "#91cf60";
    if (pct >= 80) return "#fee08b";
    if (pct >= 50) return "#fc8d59";
    return "#d73027";
  }

  function init() {
    api("GET", "/api/study").then(function (r) { return r.json(); }).then(function (study) {
      state.study = study;
      $("title").textContent = study.title + " · 120 急救站规划推演 what-if";
      if (study.synthetic_note) { $("synthetic").textContent = study.synthetic_note; $("synthetic").hidden = false; }
      var select = $("standard");
      study.standards.forEach(function (s) {
        var option = el("option", s.title_zh + " / " + s.title_en + (s.scenario ? " ★" : ""));
        option.value = s.id;
        if (s.scenario) state.scenarioStandards[s.id] = true;
        select.appendChild(option);
      });
      state.standard = study.default_standard;
      select.value = study.default_standard;
      select.addEventListener("change", function () { state.standard = select.value; refresh(); });
      $("controls").hidden = false;
      $("grid-section").hidden = false;
      drawMap(study);
      bindButtons();
      refresh();
    }).catch(function (err) { message("无法读取研究区 cannot read the study: " + err.message); });
  }

  function drawMap(study) {
    map = L.map("map", { zoomSnap: 0.25, preferCanvas: false });
    window.fcov.map = map;
    map.fitBounds(study.bounds, { padding: [10, 10] });
    state.layers.districts = L.geoJSON(study.districts, {
      interactive: false,
      style: function () { return { color: "#555", weight: 1.5, fillColor: "#bdbdbd", fillOpacity: 0.55 }; },
      onEachFeature: function (feature, layer) {
        layer.bindTooltip(esc(feature.properties.district), { permanent: true, direction: "center",
          className: "district-label" });
      },
    }).addTo(map);
    L.geoJSON(study.roads, { interactive: false, style: function (f) {
      var main = /motorway|trunk|primary/.test(f.properties.highway);
      return { color: main ? "#8d6e63" : "#9e9e9e", weight: main ? 2.5 : 1, opacity: 0.8 };
    } }).addTo(map);
    state.layers.gaps = L.layerGroup().addTo(map);
    study.facilities.forEach(function (f) {
      var marker = L.circleMarker([f.lat, f.lon], { radius: f.counted ? 7 : 4, color: "#fff", weight: 1.5,
        fillColor: f.counted ? "#1565c0" : "#607d8b", fillOpacity: 0.95, bubblingMouseEvents: false });
      marker.bindTooltip(esc(f.name) + " (" + esc(f.facility_type) + (f.counted ? ", 已有120站 existing" : "") + ")");
      marker.addTo(map);
    });
    state.layers.suggestions = L.layerGroup().addTo(map);
    var legend = L.control({ position: "bottomleft" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "legend");
      [[100, "100%"], [95, "95–100%"], [80, "80–95%"], [50, "50–80%"], [0, "< 50%"]].forEach(function (row) {
        var line = el("div");
        var swatch = el("i");
        swatch.style.background = colour(row[0]);
        line.appendChild(swatch);
        line.appendChild(document.createTextNode("覆盖率 covered " + row[1]));
        div.appendChild(line);
      });
      var gap = el("div");
      var g = el("i");
      g.style.background = "rgba(183,28,28,.45)";
      gap.appendChild(g);
      gap.appendChild(document.createTextNode("未覆盖人群 people not covered"));
      div.appendChild(gap);
      return div;
    };
    legend.addTo(map);
    map.on("click", function (e) { addStation(e.latlng.lat, e.latlng.lng); });
  }

  function stationIcon(cls) { return L.divIcon({ className: cls, iconSize: [16, 16] }); }

  function addStation(lat, lng, name) {
    var id = "S" + state.nextId++;
    var station = { id: id, name: name || ("新站 " + id.slice(1) + " new station"), lat: lat, lng: lng };
    var marker = L.marker([lat, lng], { draggable: true, icon: stationIcon("station-icon"), title: station.name,
      alt: "proposed station " + id });
    marker.bindTooltip(function () { return esc(station.name) + "<br>单击删除 click to remove, 拖动移动 drag to move"; });
    marker.on("click", function () { removeStation(id); });
    marker.on("dragend", function () {
      var p = marker.getLatLng();
      station.lat = p.lat; station.lng = p.lng;
      refresh();
    });
    marker.addTo(map);
    marker.getElement().dataset.stationId = id;
    station.marker = marker;
    state.stations.push(station);
    refresh();
    return id;
  }

  function removeStation(id) {
    state.stations = state.stations.filter(function (s) {
      if (s.id === id) { map.removeLayer(s.marker); return false; }
      return true;
    });
    refresh();
  }

  function body(extra) {
    var out = { stations: state.stations.map(function (s) { return { id: s.id, name: s.name, lon: s.lng, lat: s.lat }; }),
      crs: "wgs84", standard: state.scenarioStandards[state.standard] ? state.standard : state.study.default_standard };
    for (var k in extra || {}) out[k] = extra[k];
    return out;
  }

  // ------------------------------------------------------------------ answers
  function refresh() {
    var seq = ++state.sent;
    document.body.dataset.state = "busy";
    $("n-stations").textContent = String(state.stations.length);
    var request = state.scenarioStandards[state.standard]
      ? api("POST", "/api/scenario", body())
      : api("GET", "/api/coverage?standard=" + encodeURIComponent(state.standard));
    request.then(function (r) { return r.json(); }).then(function (answer) {
      if (seq !== state.sent) return; // a newer edit is on its way
      state.last = answer;
      render(answer);
      if (!state.scenarioStandards[state.standard] && state.stations.length) {
        message("拟建站点按 ★ 标准推演；此标准显示现状。Proposed stations are checked against the ★ standards; " +
          "this one shows the existing facilities.", true);
      } else { message(""); }
      state.applied = seq;
      document.body.dataset.seq = String(seq);
      document.body.dataset.state = "ready";
    }).catch(function (err) {
      if (seq !== state.sent) return;
      message((err.status === 422 ? "输入有误 bad input: " : "错误 error: ") + err.message);
      document.body.dataset.seq = String(seq);
      document.body.dataset.state = "error";
    });
  }

  function render(answer) {
    var rows = {};
    answer.districts.forEach(function (d) { rows[d.district_id] = d; });
    state.layers.districts.eachLayer(function (layer) {
      var p = layer.feature.properties;
      var d = rows[p.district_id] || {};
      var pct = d.covered_pct_after !== undefined ? d.covered_pct_after : d.covered_pct;
      var fails = d.pass_after !== undefined ? d.pass_after === false : d.passes === false;
      layer.setStyle({ fillColor: colour(pct), weight: fails ? 2.5 : 1.5 });
      layer.setTooltipContent(esc(p.district) + "<br>" + num(pct, 1) + "%");
    });
    state.layers.gaps.clearLayers();
    if (answer.gaps) {
      L.geoJSON(answer.gaps, { interactive: false, style: function () {
        return { color: "#b71c1c", weight: 0.5, fillColor: "#b71c1c", fillOpacity: 0.35 }; } }).addTo(state.layers.gaps);
    }
    renderSummary(answer);
    renderStations(answer);
    renderDistricts(answer);
    renderGrid(answer.grid);
  }

  function renderSummary(answer) {
    var box = $("summary");
    box.textContent = "";
    var s = answer.summary || {};
    if (answer.districts[0] && answer.districts[0].covered_pct_after !== undefined) {
      var gain = el("b", "+" + num(s.newly_covered, 0));
      box.appendChild(document.createTextNode("新增覆盖 people newly covered: "));
      box.appendChild(gain);
      box.appendChild(el("br"));
      box.appendChild(document.createTextNode("覆盖 covered " + num(s.covered_before, 0) + " → " + num(s.covered_after, 0) +
        " / " + num(s.pop, 0) + " 人 people; " + (s.existing_stations || 0) + " 已有站 existing + " +
        (s.evaluated_stations || 0) + " 拟建 proposed"));
      if (answer.timings_ms) {
        box.appendChild(el("br"));
        box.appendChild(el("small", "计算 computed in " + num(answer.timings_ms.total, 0) + " ms"));
      }
    } else {
      var title = answer.summary && answer.summary.standard_title;
      box.appendChild(document.createTextNode("现状 existing facilities: " + (title || answer.standard)));
    }
  }

  function renderStations(answer) {
    var tbody = $("stations").tBodies[0];
    tbody.textContent = "";
    var gains = {};
    (answer.stations || []).forEach(function (s) { gains[s.facility_id] = s; });
    state.stations.forEach(function (station) {
      var tr = el("tr");
      tr.dataset.stationId = station.id;
      tr.appendChild(el("td", station.name));
      var g = gains[station.id] || gains["P-" + station.id];
      var text = !g ? "—" : g.status === "evaluated" ? "+" + num(g.covered_gain, 0) : g.reason;
      tr.appendChild(el("td", text, g && g.adds_nothing ? "na" : null));
      var cell = el("td");
      var button = el("button", "删除 remove");
      button.type = "button";
      button.addEventListener("click", function () { removeStation(station.id); });
      cell.appendChild(button);
      tr.appendChild(cell);
      tbody.appendChild(tr);
    });
  }

  function renderDistricts(answer) {
    var tbody = $("districts").tBodies[0];
    tbody.textContent = "";
    answer.districts.forEach(function (d) {
      var tr = el("tr");
      tr.dataset.districtId = d.district_id;
      tr.appendChild(el("td", d.district));
      tr.appendChild(el("td", num(d.pop, 0)));
      var before = d.covered_pct_before !== undefined ? d.covered_pct_before : d.covered_pct;
      var after = d.covered_pct_after !== undefined ? d.covered_pct_after : d.covered_pct;
      var b = el("td", num(before, 1) + "%");
      b.dataset.field = "covered_pct_before";
      b.dataset.value = before == null ? "" : String(before);
      tr.appendChild(b);
      var a = el("td", num(after, 1) + "%", after > before + 1e-9 ? "up" : null);
      a.dataset.field = "covered_pct_after";
      a.dataset.value = after == null ? "" : String(after);
      tr.appendChild(a);
      tr.appendChild(el("td", d.covered_gain ? "+" + num(d.covered_gain, 0) : "—"));
      // the district's verdict as check-stations and the report's tables give it (alternative targets pass as a group)
      var ok = d.pass_after !== undefined ? d.pass_after : d.passes;
      var verdict = ok === true ? "pass" : ok === false ? "fail" : (d.verdict || "n/a");
      var v = el("td", verdict === "pass" ? "✓ 达标" : verdict === "fail" ? "✗ 未达标" : "—",
        verdict === "pass" ? "pass" : verdict === "fail" ? "fail" : "na");
      if (d.fails_zh) v.title = d.fails_zh + "\n" + d.fails_en;
      tr.appendChild(v);
      tbody.appendChild(tr);
    });
  }

  function renderGrid(grid) {
    var table = $("grid");
    table.tHead.textContent = "";
    table.tBodies[0].textContent = "";
    $("grid-standard").textContent = "(" + state.standard + ")";
    if (!grid) return;
    var head = el("tr");
    head.appendChild(el("th", "区县 district"));
    grid.columns.forEach(function (c) { head.appendChild(el("th", c)); });
    table.tHead.appendChild(head);
    grid.rows.forEach(function (row) {
      var tr = el("tr");
      tr.dataset.district = row.district;
      tr.appendChild(el("td", row.district));
      row.cells.forEach(function (cell) {
        tr.appendChild(el("td", cell.text || "", cell.status === "pass" ? "pass" : cell.status === "fail" ? "fail" : "na"));
      });
      table.tBodies[0].appendChild(tr);
    });
  }

  // ------------------------------------------------------------------ actions
  function download(resp, name) {
    return resp.blob().then(function (blob) {
      var a = document.createElement("a");
      a.href = URL.createObjectURL(blob);
      a.download = name;
      document.body.appendChild(a);
      a.click();
      setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
    });
  }

  function bindButtons() {
    $("clear").addEventListener("click", function () {
      state.stations.forEach(function (s) { map.removeLayer(s.marker); });
      state.stations = [];
      refresh();
    });
    $("suggest").addEventListener("click", function () {
      var n = parseInt($("suggest-n").value, 10) || 1;
      message("求解中 solving MCLP…", true);
      api("POST", "/api/suggest", body({ n: n })).then(function (r) { return r.json(); }).then(function (answer) {
        state.layers.suggestions.clearLayers();
        answer.sites.forEach(function (site) {
          var m = L.marker([site.lat, site.lon], { icon: stationIcon("suggest-icon"), title: site.name });
          m.bindTooltip(esc(site.name) + "<br>覆盖 covers " + num(site.covered_pop, 0) +
            " 人 people<br>单击采纳 click to adopt");
          m.on("click", function () {
            state.layers.suggestions.removeLayer(m);
            addStation(site.lat, site.lon, site.name);
          });
          m.addTo(state.layers.suggestions);
        });
        message("MCLP " + answer.status + ": " + answer.sites.length + " 个建议站点 suggested (紫色 purple); " +
          (answer.meaning || ""), true);
      }).catch(function (err) { message("建议失败 suggestion failed: " + err.message); });
    });
    $("export-csv").addEventListener("click", function () {
      api("POST", "/api/export/stations.csv", body()).then(function (r) { return download(r, "proposed_stations.csv"); })
        .catch(function (err) { message("导出失败 export failed: " + err.message); });
    });
    $("export-report").addEventListener("click", function () {
      message("生成报告中 generating the report (as fcov report)…", true);
      api("POST", "/api/export/report.zip", body()).then(function (r) { return download(r, "fcov_report.zip"); })
        .then(function () { message("报告已下载 report downloaded", true); })
        .catch(function (err) { message("导出失败 export failed: " + err.message); });
    });
  }

  window.fcov = { state: state, addStation: addStation, removeStation: removeStation, esc: esc, map: null };
  pollStatus();
})();
