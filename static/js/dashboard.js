/* Dashboard charts (Chart.js 4, served by us) and the "select all" box of the cooling list.
   Data comes from the page's <script type="application/json" id="dashboard-data">; every chart
   has its table next to it, so the page reads fine without this file. */
(function () {
  "use strict";

  var dataEl = document.getElementById("dashboard-data");
  var data = dataEl ? JSON.parse(dataEl.textContent) : null;
  var palette = ["#0d6efd", "#0dcaf0", "#198754", "#6c757d", "#212529", "#dc3545"];

  function chart(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas || typeof Chart === "undefined") return;
    config.options = Object.assign({ responsive: true, maintainAspectRatio: false, animation: false }, config.options || {});
    new Chart(canvas, config);
  }

  function pct(value) {
    return value === null || value === undefined ? "—" : value + "%";
  }

  if (data) {
    chart("chart-funnel", {
      type: "bar",
      data: {
        labels: data.funnel.labels,
        datasets: [{ label: "Leads", data: data.funnel.values, backgroundColor: palette.slice(0, 3) }],
      },
      options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
    });

    chart("chart-trend", {
      type: "line",
      data: {
        labels: data.trend.labels,
        datasets: data.trend.series.map(function (s, i) {
          return { label: s.label, data: s.values, borderColor: palette[i], backgroundColor: palette[i], tension: 0.2, pointRadius: 2 };
        }),
      },
      options: { plugins: { legend: { position: "bottom" } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });

    var s = data.sources;
    chart("chart-sources", {
      type: "bar",
      data: {
        labels: s.labels,
        datasets: [
          {
            type: "line",
            label: "Lead → prospect %",
            data: s.lead_to_prospect,
            showLine: false,
            pointRadius: 5,
            borderColor: palette[0],
            backgroundColor: palette[0],
          },
          {
            label: "95% interval",
            data: s.low.map(function (lo, i) { return lo === null ? null : [lo, s.high[i]]; }),
            backgroundColor: "rgba(13,110,253,.18)",
            borderColor: "rgba(13,110,253,.5)",
            borderWidth: 1,
            barPercentage: 0.35,
          },
        ],
      },
      options: {
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var i = ctx.dataIndex;
                if (ctx.datasetIndex === 1) return "95% interval: " + pct(s.low[i]) + " – " + pct(s.high[i]);
                return "Lead → prospect: " + pct(s.lead_to_prospect[i]) + " of " + s.leads[i] + " leads";
              },
            },
          },
        },
        scales: { y: { min: 0, max: 100, ticks: { callback: function (v) { return v + "%"; } } } },
      },
    });

    var b = data.buckets;
    chart("chart-buckets", {
      type: "bar",
      data: {
        labels: b.labels,
        datasets: [{ label: "Lead → prospect %", data: b.lead_to_prospect, backgroundColor: palette[1] }],
      },
      options: {
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (ctx) { return pct(ctx.raw) + " of " + b.leads[ctx.dataIndex] + " leads"; } } },
        },
        scales: { y: { beginAtZero: true, suggestedMax: 100, ticks: { callback: function (v) { return v + "%"; } } } },
      },
    });
  }

  var all = document.getElementById("cooling-all");
  if (all) {
    all.addEventListener("change", function () {
      document.querySelectorAll(".cooling-pick").forEach(function (box) { box.checked = all.checked; });
    });
  }
})();
