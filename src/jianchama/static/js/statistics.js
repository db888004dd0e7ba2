// The statistics page's charts (F-42): each chart is drawn from the JSON the page embeds (json_script),
// which is built from the same table the page shows beside it. No inline script (CSP). The instances are
// kept on window.jianchamaCharts so that a test (or a curious user) can read their series back.
(function () {
  "use strict";
  var HEAT = ["#eef5fc", "#9ec5ec", "#3d8bd4", "#0b4f96"];

  function chineseDate(iso) {
    var parts = iso.split("-");
    return parts[0] + "年" + Number(parts[1]) + "月" + Number(parts[2]) + "日";
  }

  function largest(values) {
    return Math.max.apply(null, [1].concat(values.filter(function (v) { return typeof v === "number"; })));
  }

  // The heat calendar: one calendar per year of the period, one heatmap series on each (ECharts draws a
  // series on one calendar), cells as large as the width allows. Sets the element's height to fit.
  function calendarOption(element, spec) {
    var days = spec.categories, values = spec.series[0].data;
    var first = Number(spec.range[0].slice(0, 4)), last = Number(spec.range[1].slice(0, 4));
    var width = element.clientWidth || 600;
    var left = last > first ? 64 : 36;
    var calendars = [], series = [], top = 28;
    for (var year = first; year <= last; year++) {
      var from = year === first ? spec.range[0] : year + "-01-01";
      var to = year === last ? spec.range[1] : year + "-12-31";
      var weeks = Math.ceil((Date.parse(to) - Date.parse(from)) / 86400000 / 7) + 2;
      var cell = Math.max(4, Math.min(28, Math.floor((width - left - 16) / weeks)));
      calendars.push({
        top: top,
        left: left,
        range: [from, to],
        cellSize: [cell, cell],
        orient: "horizontal",
        splitLine: { lineStyle: { color: "#8a96a3", width: 1 } },
        itemStyle: { borderColor: "#fff", borderWidth: 1 },
        dayLabel: { show: cell >= 10, firstDay: 1, nameMap: "ZH", fontSize: Math.min(12, cell - 2) },
        monthLabel: { nameMap: "ZH", fontSize: cell >= 8 ? 11 : 9 },
        yearLabel: { show: last > first, margin: 36, fontSize: 12 }
      });
      var prefix = String(year);
      series.push({
        name: spec.series[0].name,
        type: "heatmap",
        coordinateSystem: "calendar",
        calendarIndex: calendars.length - 1,
        data: days.map(function (day, i) { return [day, values[i]]; })
          .filter(function (pair) { return pair[0].slice(0, 4) === prefix; })
      });
      top += cell * 7 + 44;
    }
    element.style.height = (top + 20) + "px";
    return {
      tooltip: {
        formatter: function (p) { return chineseDate(p.value[0]) + "：" + p.value[1] + "次"; }
      },
      visualMap: {
        min: 0, max: largest(values), calculable: false, orient: "horizontal", left: "center", bottom: 0,
        itemHeight: 120, inRange: { color: HEAT }, text: [largest(values) + "次", "0"]
      },
      calendar: calendars,
      series: series
    };
  }

  // The region tiles: a grid of tiles in the table's order (a heatmap on two category axes), each a link to
  // the page filtered to that region (spec.links, the table's links).
  function tilesOption(element, spec) {
    var names = spec.categories, values = spec.series[0].data, links = spec.links || [];
    var width = element.clientWidth || 600;
    var columns = Math.max(1, Math.min(names.length, Math.floor(width / 120)));
    var rows = Math.max(1, Math.ceil(names.length / columns));
    element.style.height = (rows * 64 + 56) + "px";
    var max = largest(values);
    var range = function (n) { var out = []; for (var i = 0; i < n; i++) out.push(i); return out; };
    return {
      tooltip: {
        formatter: function (p) { return p.name + "：" + p.value[2] + "次" + (p.data.link ? "（点击查看）" : ""); }
      },
      grid: { left: 4, right: 4, top: 4, bottom: 48 },
      xAxis: { type: "category", data: range(columns), show: false },
      yAxis: { type: "category", data: range(rows), show: false, inverse: true },
      visualMap: {
        min: 0, max: max, dimension: 2, calculable: false, orient: "horizontal", left: "center",
        bottom: 0, itemHeight: 120, inRange: { color: HEAT }, text: [max + "次", "0"]
      },
      series: [{
        name: spec.series[0].name,
        type: "heatmap",
        data: names.map(function (name, i) {
          return {
            name: name,
            value: [i % columns, Math.floor(i / columns), values[i]],
            link: links[i] || "",
            label: { color: values[i] > max / 2 ? "#fff" : "#111" }  // readable on a dark tile and a light one
          };
        }),
        label: {
          show: true, fontSize: 13, lineHeight: 18, overflow: "truncate",
          width: Math.floor(width / columns) - 8,
          formatter: function (p) { return p.name + "\n" + p.value[2]; }
        },
        itemStyle: { borderColor: "#fff", borderWidth: 3 },
        emphasis: { itemStyle: { borderColor: "#333", borderWidth: 2 } }
      }]
    };
  }

  function plainOption(spec) {
    if (spec.type === "pie") {
      return {
        tooltip: { trigger: "item" },
        legend: { bottom: 0 },
        series: [{
          name: spec.series[0].name,
          type: "pie",
          radius: "60%",
          data: spec.categories.map(function (name, i) { return { name: name, value: spec.series[0].data[i] }; })
        }]
      };
    }
    return {
      tooltip: { trigger: "axis" },
      legend: { top: 0 },
      grid: { left: 48, right: 16, bottom: 64, top: 32 },
      xAxis: { type: "category", data: spec.categories, axisLabel: { interval: 0, rotate: spec.categories.length > 6 ? 30 : 0 } },
      yAxis: { type: "value" },
      series: spec.series.map(function (s) { return { name: s.name, type: spec.type, data: s.data }; })
    };
  }

  // Calendar and tiles lay themselves out by the element's width (and set its height), so they are built
  // again when the window is resized.
  function optionFor(element, spec) {
    if (spec.type === "calendar") return calendarOption(element, spec);
    if (spec.type === "tiles") return tilesOption(element, spec);
    return plainOption(spec);
  }

  function draw() {
    var source = document.getElementById("chart-data");
    if (!source || typeof echarts === "undefined") return;
    var charts = JSON.parse(source.textContent);
    var drawn = [];
    window.jianchamaCharts = {};
    document.querySelectorAll("[data-chart]").forEach(function (element) {
      var spec = charts[element.getAttribute("data-chart")];
      if (!spec) return;
      var option = optionFor(element, spec);
      var chart = echarts.init(element, null, { renderer: "canvas" });
      chart.setOption(option);
      if (spec.type === "tiles") {
        chart.on("click", function (p) { if (p.data && p.data.link) window.location.href = p.data.link; });
      }
      drawn.push({ element: element, spec: spec, chart: chart });
      window.jianchamaCharts[element.getAttribute("data-chart")] = chart;
    });
    window.addEventListener("resize", function () {
      drawn.forEach(function (one) {
        if (one.spec.type === "calendar" || one.spec.type === "tiles") {
          var option = optionFor(one.element, one.spec);
          one.chart.resize();
          one.chart.setOption(option, true);
        } else {
          one.chart.resize();
        }
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
