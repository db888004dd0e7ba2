/* The field app's service worker (F-44), hand-written. Served by inspections.views.field.service_worker under
   the app's own path (scope: the app's pages only), which prepends VERSION, SHELL, DATA and SCOPE.

   - The shell (the app's page, its script, styles and icons) is kept per VERSION: a new app is a new cache.
   - The data (the inspector's visits and the day's code tokens) is fetched from the network first and kept in
     a cache of its own that survives a new version; offline, the last copy answers.
   - Nothing else is touched: the sync POSTs and every other page go to the network as they are. */
/* global VERSION, SHELL, DATA, SCOPE */
"use strict";

const SHELL_CACHE = "jc-field-shell-" + VERSION;
const DATA_CACHE = "jc-field-data";
const NETWORK_TIMEOUT_MS = 4000; // on a network that answers nothing, the kept copy after this long

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const shell = await caches.open(SHELL_CACHE);
      await shell.addAll(SHELL.map((url) => new Request(url, { credentials: "same-origin", cache: "reload" })));
      const data = await caches.open(DATA_CACHE);
      for (const url of DATA) {
        try {
          const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
          if (isData(response)) await data.put(url, response);
        } catch (error) {
          /* offline while installing: the app fetches the data again once the worker controls it */
        }
      }
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith("jc-field-shell-") && key !== SHELL_CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

function isData(response) {
  return (
    response &&
    response.ok &&
    !response.redirected &&
    (response.headers.get("Content-Type") || "").startsWith("application/json")
  );
}

function withTimeout(promise, ms) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

async function dataFirstFromNetwork(request, url) {
  const cache = await caches.open(DATA_CACHE);
  try {
    const response = await withTimeout(fetch(request), NETWORK_TIMEOUT_MS);
    if (isData(response)) {
      await cache.put(url.pathname, response.clone());
      return response;
    }
    // A refusal (login expired, …) is passed on, but the kept copy stays for offline use.
    return response;
  } catch (error) {
    const kept = await cache.match(url.pathname);
    if (kept) {
      const headers = new Headers(kept.headers);
      headers.set("X-Field-Offline", "1");
      return new Response(await kept.blob(), { status: 200, headers });
    }
    throw error;
  }
}

async function shellPage(request, url) {
  const cache = await caches.open(SHELL_CACHE);
  try {
    const response = await withTimeout(fetch(request), NETWORK_TIMEOUT_MS);
    if (response.ok && !response.redirected) await cache.put(SCOPE, response.clone());
    return response;
  } catch (error) {
    const kept = await cache.match(SCOPE);
    if (kept) return kept;
    throw error;
  }
}

async function shellFile(request, url) {
  const cache = await caches.open(SHELL_CACHE);
  const kept = await cache.match(url.pathname);
  return kept || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (DATA.includes(url.pathname)) {
    event.respondWith(dataFirstFromNetwork(request, url));
  } else if (url.pathname === SCOPE) {
    event.respondWith(shellPage(request, url));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(shellFile(request, url));
  }
});
