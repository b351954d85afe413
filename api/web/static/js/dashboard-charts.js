// Draws the dashboard's charts with Chart.js (served from /static/vendor/chartjs/).
// Each <canvas data-chart="{...}"> carries its own data as JSON; the same numbers
// are in the tables on the page. No inline script: the CSP forbids it.
(function () {
  "use strict";

  function draw() {
    var canvases = document.querySelectorAll("canvas[data-chart]");
    if (typeof window.Chart === "undefined") {
      var message = document.getElementById("chart-error");
      if (message) { message.hidden = false; }
      return;
    }
    var Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 13;
    Chart.defaults.color = "#4d5866";
    canvases.forEach(function (canvas) {
      var spec = JSON.parse(canvas.getAttribute("data-chart"));
      var percent = Boolean(spec.percent);
      var line = spec.type === "line";
      var datasets = spec.datasets.map(function (set) {
        return Object.assign({
          borderWidth: line ? 2.5 : 0,
          pointRadius: line ? 3 : 0,
          spanGaps: true,
          tension: 0,
          maxBarThickness: 36
        }, set);
      });
      var chart = new Chart(canvas, {
        type: spec.type,
        data: { labels: spec.labels, datasets: datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          interaction: { mode: "index", intersect: false },
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 14, boxHeight: 14, padding: 14 } },
            tooltip: {
              callbacks: percent ? {
                label: function (ctx) {
                  return ctx.dataset.label + ": " + (ctx.parsed.y === null ? "–" : ctx.parsed.y + "%");
                }
              } : {}
            }
          },
          scales: {
            x: { stacked: Boolean(spec.stacked), grid: { display: false }, ticks: { maxRotation: 0, autoSkip: true, autoSkipPadding: 12 } },
            y: {
              stacked: Boolean(spec.stacked),
              beginAtZero: true,
              suggestedMax: percent ? 100 : undefined,
              max: percent ? 100 : undefined,
              ticks: {
                precision: 0,
                callback: percent ? function (value) { return value + "%"; } : undefined
              },
              title: { display: Boolean(spec.yTitle), text: spec.yTitle || "" }
            }
          }
        }
      });
      canvas.setAttribute("data-rendered", chart ? "true" : "false");
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
