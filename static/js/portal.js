// Small behaviours htmx does not cover. No inline scripts: the CSP forbids them.
document.addEventListener("htmx:afterSwap", function (event) {
  // When a referral opens in the side panel, take keyboard and screen-reader focus to it.
  if (event.detail.target.id === "referral-panel") {
    var heading = event.detail.target.querySelector("h2[tabindex='-1']");
    if (heading) heading.focus();
  }
});

// Chat: after a message is sent, empty the box; keep the newest message in view.
document.addEventListener("htmx:afterRequest", function (event) {
  var form = event.detail.elt;
  if (form.matches && form.matches("form.chat-form") && event.detail.successful) {
    var box = form.querySelector("textarea");
    if (box) { box.value = ""; box.focus(); }
  }
});
document.addEventListener("htmx:afterSwap", function (event) {
  var log = document.querySelector("#chat-log .messages");
  if (log) log.scrollTop = log.scrollHeight;
  // When the waiting room turns into the consultation, move focus to its heading.
  if (event.detail.target.id === "room" || (event.detail.elt && event.detail.elt.id === "room")) {
    var heading = document.getElementById("room-heading");
    if (heading && document.activeElement === document.body) heading.focus();
  }
});
