// Small behaviours htmx does not cover. No inline scripts: the CSP forbids them.
document.addEventListener("htmx:afterSwap", function (event) {
  // When a referral opens in the side panel, take keyboard and screen-reader focus to it.
  if (event.detail.target.id === "referral-panel") {
    var heading = event.detail.target.querySelector("h2[tabindex='-1']");
    if (heading) heading.focus();
  }
});
