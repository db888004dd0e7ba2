// The statistics page's charts (F-42): each chart is drawn from the JSON the page embeds (json_script),
// which is built from the same table the page shows beside it. No inline script (CSP). The instances are
// kept on window.jianchamaCharts so that a test (or a curious user) can read their series back.
(function () {
  "use strict";
  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || typeof echarts === "undefined") return;
    var charts = JSON.parse(source.textContent);
    window.jianchamaCharts = {};
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var spec = charts[element.getAttribute("data-chart")];
      if (!spec) return;
      var chart = echarts.init(element, null, { renderer: "canvas" });
      var option;
      if (spec.type === "pie") {
        option = {
          tooltip: { trigger: "item" },
          legend: { bottom: 0 },
          series: [{
            name: spec.series[0].name,
            type: "pie",
            radius: "60%",
            data: spec.categories.map(function (name, i) { return { name: name, value: spec.series[0].data[i] }; })
          }]
        };
      } else {
        option = {
          tooltip: { trigger: "axis" },
          legend: { top: 0 },
          grid: { left: 48, right: 16, bottom: 64, top: 32 },
          xAxis: { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: spec.categories.length > 6 ? 30 : 0 } },
          yAxis: { type: "value" },
          series: spec.series.map(function (s) { return { name: s.name, type: spec.type, data: s.data }; })
        };
      }
      chart.setOption(option);
      window.jianchamaCharts[element.getAttribute("data-chart")] = chart;
    });
    window.addEventListener("resize", function () {
      Object.keys(window.jianchamaCharts).forEach(function (key) { window.jianchamaCharts[key].resize(); });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
