// After a failed submit, move focus to the error summary, so screen readers
// announce it and keyboard users start from the list of problems (issue 16).
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
});

// Tables on phones (issue 16): label every body cell with its column heading, so the
// stylesheet can show each row as a block of "heading: value" lines on a narrow screen.
document.addEventListener("DOMContentLoaded", function () {
  var tables = document.querySelectorAll(".table-wrap > table, table.stack");
  Array.prototype.forEach.call(tables, function (table) {
    var heads = table.querySelectorAll("thead tr:last-child > *");
    if (!heads.length || !table.tBodies.length) {
      return;
    }
    var names = Array.prototype.map.call(heads, function (th) {
      return th.textContent.replace(/\s+/g, " ").trim();
    });
    Array.prototype.forEach.call(table.tBodies, function (body) {
      Array.prototype.forEach.call(body.rows, function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.cells, function (cell) {
          var name = names[column];
          if (cell.tagName === "TD" && name && cell.colSpan === 1) {
            cell.setAttribute("data-label", name);
          }
          column += cell.colSpan || 1;
        });
      });
    });
    table.classList.add("stackable");
  });
});
