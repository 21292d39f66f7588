// After a failed submit, move focus to the error summary, so screen readers
// announce it and keyboard users start from the list of problems (issue 16).
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
  }
});
