// A development server for the client: serves src/ as chirp-api does (index.html at `/` with
// %ASSETS% rewritten, the other files under /assets/...; the same Content-Security-Policy)
// and proxies everything else (/v1/..., the stream included) to the API.
//   node scripts/dev-server.mjs [port]      (API from CHIRP_API, default http://127.0.0.1:8080)
import {createServer, request} from 'node:http';
import {readFile} from 'node:fs/promises';
import {dirname, extname, join, normalize} from 'node:path';
import {fileURLToPath} from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
const port = Number(process.argv[2] || process.env.PORT || 8090);
const api = new URL(process.env.CHIRP_API || 'http://127.0.0.1:8080');
const CSP =
  "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";
const TYPES = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

createServer(async (req, res) => {
  const url = new URL(req.url || '/', 'http://localhost');
  try {
    if (req.method === 'GET' && url.pathname === '/') {
      const html = (await readFile(join(root, 'index.html'), 'utf8')).replaceAll('%ASSETS%', '/assets/dev');
      res.writeHead(200, {'Content-Type': TYPES['.html'], 'Content-Security-Policy': CSP, 'Cache-Control': 'no-cache'});
      return res.end(html);
    }
    const asset = /^\/assets\/[^/]+\/(.+)$/.exec(url.pathname);
    if (req.method === 'GET' && asset) {
      const rel = normalize(decodeURIComponent(asset[1]));
      if (rel.startsWith('..') || rel.endsWith('.d.ts') || rel === 'index.html') throw Object.assign(new Error(), {code: 'ENOENT'});
      const body = await readFile(join(root, rel));
      res.writeHead(200, {
        'Content-Type': TYPES[/** @type {keyof TYPES} */ (extname(rel))] || 'application/octet-stream',
        'Content-Security-Policy': CSP,
        'Cache-Control': 'no-cache',
      });
      return res.end(body);
    }
  } catch (err) {
    if (/** @type {any} */ (err).code === 'ENOENT') {
      res.writeHead(404, {'Content-Type': 'text/plain'});
      return res.end('not found');
    }
    throw err;
  }
  // Everything else goes to the API, streamed both ways.
  const upstream = request(
    {hostname: api.hostname, port: api.port, path: req.url, method: req.method, headers: {...req.headers, host: api.host}},
    (up) => {
      res.writeHead(up.statusCode || 502, up.headers);
      if (process.env.DEBUG) up.on('data', (c) => console.log(Date.now() % 100000, req.url?.slice(0, 30), 'chunk', String(c).slice(0, 40).replace(/\n/g, ' ')));
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    if (!res.headersSent) res.writeHead(502, {'Content-Type': 'application/problem+json'});
    res.end(JSON.stringify({type: 'about:blank', title: 'Bad Gateway', status: 502, detail: 'The API is not running.', code: 'internal'}));
  });
  req.pipe(upstream);
  res.on('close', () => upstream.destroy());
}).listen(port, '127.0.0.1', () => {
  console.log(`Chirp web client on http://127.0.0.1:${port}/ (API: ${api.origin})`);
});
