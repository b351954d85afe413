// Draws the protocol flowchart: the mermaid source is generated (and escaped) by
// the server in <pre class="mermaid">; mermaid is served from this origin.
(function () {
  "use strict";

  var container = document.getElementById("protocol-chart");
  var status = document.getElementById("chart-status");
  if (!container) {
    return;
  }

  function fail(message) {
    container.setAttribute("data-rendered", "error");
    if (status) {
      status.textContent = message;
      status.classList.add("chart-error");
    }
  }

  var mermaid = window.mermaid;
  if (!mermaid) {
    fail("Het stroomschema kan niet worden getekend (de tekenbibliotheek ontbreekt). De tabel hieronder bevat alle stappen.");
    return;
  }

  mermaid.initialize({
    startOnLoad: false,
    securityLevel: "strict",
    theme: "base",
    fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif",
    themeVariables: {
      fontSize: "14px",
      primaryColor: "#e8f0fa",
      primaryBorderColor: "#1f4e8c",
      primaryTextColor: "#14213d",
      lineColor: "#5c6773",
      edgeLabelBackground: "#ffffff",
      tertiaryColor: "#f4f6f9"
    },
    flowchart: {
      htmlLabels: true,
      curve: "basis",
      useMaxWidth: false,
      nodeSpacing: 36,
      rankSpacing: 48,
      wrappingWidth: 240
    }
  });

  // On a narrow screen the chart keeps its size and scrolls: start at the start node.
  function showStart() {
    if (container.scrollWidth <= container.clientWidth) {
      return;
    }
    var start = container.querySelector("g.node[id*='flowchart-start-']");
    if (!start) {
      return;
    }
    var box = start.getBoundingClientRect();
    var frame = container.getBoundingClientRect();
    container.scrollLeft += box.left + box.width / 2 - (frame.left + frame.width / 2);
  }

  mermaid
    .run({ querySelector: "#protocol-chart pre.mermaid" })
    .then(function () {
      container.setAttribute("data-rendered", "true");
      if (status) {
        status.textContent = "";
      }
      showStart();
    })
    .catch(function (error) {
      fail("Het stroomschema kan niet worden getekend. De tabel hieronder bevat alle stappen.");
      if (window.console) {
        window.console.error(error);
      }
    });
})();
