/* The viewer's time zone for event pages: the browser's IANA zone (Intl API) stored in the `tz` cookie, which the
   server reads (after ?tz=). When the cookie was missing or different, the page reloads once to show local times. */
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!zone || !/^[A-Za-z0-9_+\-\/]{1,64}$/.test(zone)) return;
    var match = document.cookie.match(/(?:^|; )tz=([^;]*)/);
    var current = match ? match[1] : "";
    if (current === zone) return;
    document.cookie = "tz=" + zone + "; path=/; max-age=31536000; samesite=lax";
    var key = "dhnet-tz-reloaded";
    if (!new URLSearchParams(window.location.search).has("tz") && !window.sessionStorage.getItem(key)) {
      window.sessionStorage.setItem(key, "1");
      window.location.reload();
    }
  } catch (e) { /* no Intl or no storage: times stay in UTC */ }
})();
