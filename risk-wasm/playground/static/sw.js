// Offline support: this site's own files, cached at install and served cache-first.
// Requests for any other origin are never touched (and the page's CSP forbids them anyway).
// build.sh fills in the file list and a hash of their contents, so a new build replaces the cache.
const VERSION = "__BUILD_HASH__";
const FILES = __FILES__;
const CACHE = `iam-risk-playground-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(FILES))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(keys.filter((k) => k.startsWith("iam-risk-playground-") && k !== CACHE).map((k) => caches.delete(k))),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      // The fragment is not part of the URL a service worker sees; the query is ignored.
      const hit = await cache.match(event.request, { ignoreSearch: true });
      if (hit) return hit;
      try {
        return await fetch(event.request);
      } catch (err) {
        if (event.request.mode === "navigate") {
          const page = await cache.match("./index.html");
          if (page) return page;
        }
        throw err;
      }
    }),
  );
});
