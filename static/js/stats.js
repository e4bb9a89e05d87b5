// Draws each statistics chart from its canvas's data-chart attribute (the same numbers as
// the table beside it; null is a suppressed cell, left as a gap). No inline script: CSP.
(function () {
  "use strict";
  var palette = ["#1f5f8b", "#c2571a", "#2e7d4f", "#7a4fa3"];
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var spec = JSON.parse(canvas.getAttribute("data-chart"));
    var rtl = canvas.getAttribute("data-dir") === "rtl";
    var font = { family: "Vazirmatn, system-ui, sans-serif" };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (s, i) {
          return { label: s.label, data: s.data, backgroundColor: palette[i % palette.length] };
        })
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: true,
        locale: document.documentElement.lang === "fa" ? "fa-IR" : "en",
        plugins: { legend: { rtl: rtl, labels: { font: font } }, tooltip: { rtl: rtl } },
        scales: {
          x: { stacked: spec.stacked, reverse: rtl, ticks: { font: font } },
          y: { stacked: spec.stacked, beginAtZero: true, position: rtl ? "right" : "left" }
        }
      }
    });
    canvas.setAttribute("data-drawn", "true");
  });
})();
