// OAuth 2.0 Form Post Response Mode: submit the response to the client.
(function () {
  "use strict";
  var form = document.forms[0];
  if (form) {
    // The prototype's submit, in case a field is named "submit".
    HTMLFormElement.prototype.submit.call(form);
  }
})();
