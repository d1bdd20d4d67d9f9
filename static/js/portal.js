// Small behaviours htmx does not cover. No inline scripts: the CSP forbids them.
document.addEventListener("htmx:afterSwap", function (event) {
  // When the referral or consultation panel changes, take keyboard and screen-reader focus to the
  // news: the first field with an error, else the result notice, else the heading of what just opened.
  // Moving focus makes a screen reader read that once, which is why the panel is not aria-live
  // (that would read the whole panel, forms and all, on every swap).
  // By id: an outerHTML swap (the consultation panel) has put a new element in the target's place.
  var id = event.detail.target.id;
  if (id !== "referral-panel" && id !== "consultation-panel") return;
  var panel = document.getElementById(id);
  if (!panel) return;
  var target = panel.querySelector(".has-error input, .has-error select, .has-error textarea") ||
    panel.querySelector(".notice[tabindex='-1']");
  if (target) {
    target.focus();
    return;
  }
  var heading = panel.querySelector("h1[tabindex='-1'], h2[tabindex='-1']");
  if (!heading) return;
  heading.focus({ preventScroll: true });
  // A referral just opened. Below the list (phones) bring the panel's top up; beside the list
  // (wide screens) it is already in view, and scrolling would only push the header away.
  var top = panel.getBoundingClientRect().top;
  if (top < 0 || top > window.innerHeight / 2) panel.scrollIntoView({ block: "start" });
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

// A notice flashed by the last full page load is about what was done before it. Once the person
// does something else on the page (any htmx form post), it is stale: "… is yours. Start it" must
// not stay above "Consultation started". Polls are GETs and leave it alone.
document.addEventListener("htmx:afterRequest", function (event) {
  var config = event.detail.requestConfig;
  if (!config || config.verb === "get" || !event.detail.successful) return;
  document.querySelectorAll("main > .flash").forEach(function (notice) { notice.remove(); });
});

// After a person's action swaps a fragment that no longer holds the control they used (a row whose
// button went away), focus would fall to the top of the page. Put it on the fragment's news instead:
// a status message made focusable for this (tabindex="-1"). Same-id elements are htmx's own business.
document.addEventListener("htmx:afterSettle", function (event) {
  var config = event.detail.requestConfig;
  if (!config || config.verb === "get") return;
  if (document.activeElement && document.activeElement !== document.body) return;
  var swapped = document.getElementById(event.detail.target.id) || event.detail.target;
  var news = swapped && swapped.querySelector && swapped.querySelector("[role='status'][tabindex='-1']");
  if (news) news.focus();
});

// A part that replaces what the keyboard was on (the record's "show", an earlier report's reason form and
// report, older history entries) marks the element to read next with data-focus: focus goes there once,
// so a screen reader reads it and Tab carries on from it.
document.addEventListener("htmx:afterSettle", function () {
  var mark = document.querySelector("[data-focus]");
  if (!mark) return;
  mark.removeAttribute("data-focus");
  mark.focus({ preventScroll: false });
});
