/* The CI pages' scripts.
 *
 * 1. The relationship graph: every element with data-graph-url is filled with a Cytoscape.js
 *    graph of the JSON that URL answers (cmdb:ci_graph: {start, capped, nodes, edges}). Clicking
 *    a node opens that CI. The last graph drawn is window.ciGraph (tests and the console use it).
 * 2. The CI picker of the inline relationship form: a click on a search result
 *    ([data-ci-pick]) fills the form's hidden "target" and the search box.
 */
(function () {
  "use strict";

  var COLOURS = {
    ci: "#0d6efd",
    service: "#fd7e14",
    retired: "#adb5bd",
    start: "#212529",
    affected: "#dc3545",
    edge: "#adb5bd",
    text: "#212529",
    muted: "#6c757d",
  };

  var STYLE = [
    {
      selector: "node",
      style: {
        label: "data(label)",
        "background-color": COLOURS.ci,
        color: COLOURS.text,
        "font-size": 10,
        "text-valign": "bottom",
        "text-margin-y": 4,
        "text-wrap": "ellipsis",
        "text-max-width": 140,
        width: 22,
        height: 22,
      },
    },
    { selector: "node.retired", style: { "background-color": COLOURS.retired } },
    {
      selector: "node.business",
      style: { "background-color": COLOURS.service, shape: "round-rectangle", width: 32, height: 32, "font-weight": "bold" },
    },
    { selector: "node.affected-service", style: { "border-width": 4, "border-color": COLOURS.affected, color: COLOURS.affected } },
    { selector: "node.start", style: { "border-width": 4, "border-color": COLOURS.start, width: 34, height: 34, "font-weight": "bold" } },
    {
      selector: "edge",
      style: {
        width: 1.5,
        "curve-style": "bezier",
        "line-color": COLOURS.edge,
        "target-arrow-color": COLOURS.edge,
        "target-arrow-shape": "triangle",
        label: "data(label)",
        "font-size": 8,
        color: COLOURS.muted,
        "text-rotation": "autorotate",
        "text-background-color": "#ffffff",
        "text-background-opacity": 0.8,
        "text-background-padding": 1,
      },
    },
    { selector: "node:selected", style: { "overlay-opacity": 0.15 } },
  ];

  function classesOf(node, mode) {
    var classes = [];
    if (node.business_service) classes.push("business");
    if (node.business_service && mode === "impact" && !node.start) classes.push("affected-service");
    if (node.status === "retired") classes.push("retired");
    if (node.start) classes.push("start");
    return classes.join(" ");
  }

  function say(container, text) {
    var note = document.getElementById("ci-graph-note");
    if (note) note.textContent = text;
    container.setAttribute("data-note", text);
  }

  function draw(container) {
    var mode = container.dataset.mode || "neighbourhood";
    fetch(container.dataset.graphUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.error || response.statusText);
          return body;
        });
      })
      .then(function (data) {
        var elements = data.nodes.map(function (node) {
          return { group: "nodes", data: node, classes: classesOf(node, mode) };
        });
        data.edges.forEach(function (edge) {
          elements.push({ group: "edges", data: edge });
        });
        var cy = cytoscape({ container: container, elements: elements, style: STYLE, minZoom: 0.2, maxZoom: 3 });
        var start = cy.getElementById(data.start);
        var layout =
          cy.nodes().length > 80
            ? { name: "cose", animate: false, nodeRepulsion: 8000, idealEdgeLength: 80 }
            : { name: "breadthfirst", roots: start, directed: false, spacingFactor: 1.1, padding: 20 };
        cy.layout(layout).run();
        if (cy.zoom() > 1.2) {
          // a handful of CIs: keep them at a readable size instead of filling the canvas
          cy.zoom(1.2);
          cy.center();
        }
        cy.on("tap", "node", function (event) {
          var url = event.target.data("url");
          if (url) window.location.href = url;
        });
        cy.on("mouseover", "node", function () {
          container.style.cursor = "pointer";
        });
        cy.on("mouseout", "node", function () {
          container.style.cursor = "";
        });
        window.ciGraph = cy;
        var count = cy.nodes().length;
        var text = count + " CI" + (count === 1 ? "" : "s") + ", " + cy.edges().length + " relationship" + (cy.edges().length === 1 ? "" : "s");
        if (data.capped) text += " — capped: only the nearest " + data.max_nodes + " CIs are drawn";
        say(container, text);
        container.dataset.ready = "true";
      })
      .catch(function (error) {
        say(container, "The graph could not be loaded: " + error.message);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (typeof cytoscape === "undefined") return;
    document.querySelectorAll("[data-graph-url]").forEach(draw);
  });

  // The CI picker -------------------------------------------------------------------------------
  document.addEventListener("click", function (event) {
    var pick = event.target.closest("[data-ci-pick]");
    if (!pick) return;
    var form = pick.closest("form");
    if (!form) return;
    form.querySelector("[name=target]").value = pick.dataset.ciPick;
    form.querySelector("[name=target_search]").value = pick.dataset.ciLabel;
    var results = pick.closest(".ci-search-results");
    if (results) results.innerHTML = "";
  });

  document.addEventListener("input", function (event) {
    // Typing again drops an earlier pick: the server then matches the exact name typed.
    if (event.target.name !== "target_search" || !event.target.form) return;
    var target = event.target.form.querySelector("[name=target]");
    if (target) target.value = "";
  });
})();
