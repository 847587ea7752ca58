// The owners' dashboard: copy buttons for client IDs, secrets and the
// integration settings. Without script the values are plain text to select.
(function () {
  "use strict";
  var status = document.getElementById("copy-status");
  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }
  function select(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
  var buttons = document.querySelectorAll("button[data-copy]");
  Array.prototype.forEach.call(buttons, function (button) {
    var el = document.getElementById(button.getAttribute("data-copy"));
    if (!el) {
      return;
    }
    var label = button.getAttribute("data-copy-label") || "Text";
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = el.textContent;
      var fallback = function () {
        select(el);
        say(label + " selected: press Ctrl+C (or ⌘C) to copy it.");
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(function () {
          say(label + " copied.");
        }, fallback);
      } else {
        fallback();
      }
    });
  });
})();
