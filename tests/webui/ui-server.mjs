// Used only while the master under test does not serve the UI itself (a
// build from before the web UI routes): serves `/` and `/static/<path>` from
// webui/app on another loopback port and passes every other request to the
// master unchanged (status, headers and streamed body, redirects included),
// so the page still talks to one origin as it does on the master.
// `fronts` (master port → the port of the server in front of it, shared by
// all such servers) rewrites a redirect's Location to the server in front of
// the master it names, so a page that follows a leader stays in front of one.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json', '.txt': 'text/plain; charset=utf-8',
  '.ico': 'image/x-icon', '.map': 'application/json',
};

export function startUiServer(appDir, masterPort, fronts = new Map()) {
  const root = fs.realpathSync(appDir);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    let file = null;
    if (url.pathname === '/') file = 'index.html';
    else if (url.pathname.startsWith('/static/')) file = decodeURIComponent(url.pathname.slice('/static/'.length));
    if (file !== null) {
      const full = path.resolve(root, file);
      if (!full.startsWith(root + path.sep) || !fs.existsSync(full) || !fs.statSync(full).isFile()) {
        res.writeHead(404, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ message: `No asset '${file}'` }));
        return;
      }
      res.writeHead(200, { 'Content-Type': MIME[path.extname(full)] || 'application/octet-stream', 'Cache-Control': 'no-cache' });
      fs.createReadStream(full).pipe(res);
      return;
    }
    const up = http.request({ host: '127.0.0.1', port: masterPort, method: req.method, path: req.url,
      headers: { ...req.headers, host: `127.0.0.1:${masterPort}` } }, (r) => {
      const headers = { ...r.headers };
      if (headers.location) {
        headers.location = headers.location.replace(/^(\w+:)?\/\/127\.0\.0\.1:(\d+)/, (all, scheme, p) =>
          (fronts.has(Number(p)) ? `${scheme || ''}//127.0.0.1:${fronts.get(Number(p))}` : all));
      }
      res.writeHead(r.statusCode, headers);
      r.pipe(res);
    });
    up.on('error', () => {
      res.destroy();
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      fronts.set(masterPort, server.address().port);
      resolve({ server, port: server.address().port });
    });
  });
}
