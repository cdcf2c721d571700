// Insert a template variable at the cursor of the title or message field the
// engineer last worked in (the message by default), then let htmx refresh the preview.
(function () {
  var target = null;
  document.addEventListener("focusin", function (event) {
    if (event.target.name === "title" || event.target.name === "body") {
      target = event.target;
    }
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-insert]");
    if (!button) return;
    event.preventDefault();
    var field = target || document.querySelector("textarea[name=body]");
    if (!field) return;
    var text = button.getAttribute("data-insert");
    var start = field.selectionStart, end = field.selectionEnd;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.selectionStart = field.selectionEnd = start + text.length;
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });
})();
