// gongdan dashboard: draws the charts from the JSON the server wrote into #dash-data. Every
// chart repeats a table that stays on the page, so without this script nothing is lost.
(function () {
  "use strict";
  var el = document.getElementById("dash-data");
  if (!el || !window.echarts) return;
  var data;
  try { data = JSON.parse(el.textContent); } catch (e) { return; }
  var charts = [];

  function option(kind, d) {
    var series = (d.series || []).map(function (s) {
      var o = { name: s.name, type: kind === "line" ? "line" : "bar", data: s.values, connectNulls: false };
      if (s.axis) o.yAxisIndex = 1;
      if (d.stack) o.stack = "all";
      return o;
    });
    var twoAxes = series.some(function (s) { return s.yAxisIndex === 1; });
    var cat = { type: "category", data: d.labels || [] };
    var val = { type: "value" };
    var o = {
      animation: false,
      tooltip: { trigger: "axis" },
      grid: { left: 48, right: twoAxes ? 48 : 16, top: 16, bottom: 28, containLabel: true },
      series: series
    };
    if (kind === "hbar") {
      o.xAxis = val; o.yAxis = cat;
    } else {
      o.xAxis = cat;
      o.yAxis = twoAxes ? [val, { type: "value", max: 100, splitLine: { show: false } }] : val;
    }
    return o;
  }

  // The vendored build has no legend component: the legend is drawn here, in the page, with
  // the chart's own colours (set through the CSSOM, which the CSP allows).
  function legend(box, c, d) {
    if (!d.series || d.series.length < 2) return;
    var colors = (c.getOption().color) || [];
    var ul = document.createElement("ul");
    ul.className = "legend";
    ul.setAttribute("aria-hidden", "true");
    d.series.forEach(function (s, i) {
      var li = document.createElement("li"), sw = document.createElement("span");
      sw.className = "swatch";
      sw.style.backgroundColor = colors[i % colors.length] || "#888";
      li.appendChild(sw);
      li.appendChild(document.createTextNode(s.name));
      ul.appendChild(li);
    });
    box.parentNode.insertBefore(ul, box);
  }

  document.querySelectorAll("[data-chart]").forEach(function (box) {
    var d = data[box.getAttribute("data-chart")];
    if (!d || !d.labels || !d.labels.length) { box.hidden = true; return; }
    var c = window.echarts.init(box);
    c.setOption(option(box.getAttribute("data-kind") || "bar", d));
    charts.push(c);
    legend(box, c, d);
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
