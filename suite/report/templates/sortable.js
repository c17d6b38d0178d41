// Click a header of a table.sortable to sort its rows by that column (again: reverse).
// Numbers (a data-value attribute, else the cell text) sort numerically, the rest as text.
(function () {
  function key(cell) {
    var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent.trim();
    var number = parseFloat(raw.replace(/,/g, ""));
    return isNaN(number) || !/^[-+]?[0-9.,]+(e[-+]?[0-9]+)?%?$/i.test(raw.replace(/\s/g, "")) ? raw.toLowerCase() : number;
  }
  function compare(a, b) {
    if (typeof a === typeof b) { return a < b ? -1 : a > b ? 1 : 0; }
    return typeof a === "number" ? -1 : 1;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (header, column) {
      header.title = "sort by this column";
      header.addEventListener("click", function () {
        var body = table.tBodies[0];
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var order = compare(key(r1.cells[column]), key(r2.cells[column]));
          return ascending ? order : -order;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
})();
