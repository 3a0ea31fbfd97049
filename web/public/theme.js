// Apply the colour mode before first paint so a dark page never flashes white. A file of
// its own, not inline: the Content-Security-Policy allows no inline scripts.
(function () {
  try {
    var saved = localStorage.getItem("chatapi.theme");
    var dark = saved ? saved === "dark" : window.matchMedia("(prefers-color-scheme: dark)").matches;
    document.documentElement.setAttribute("data-bs-theme", dark ? "dark" : "light");
  } catch (e) {}
})();
