"""A stand-in for a custom Hugging Face inference container (tests/endpoints/custom*.test.ts).

POST / takes {"inputs": "<text>"} and answers text-classification output computed from the input (the label is the
text reversed and upper-cased, the score its length / 100), so a test can tell its answers were forwarded.
GET /health answers 200. It prints the value of SECRET_KEY at start, so tests can check that modelhost redacts it.
--mode never-healthy: /health always answers 503; --mode exit: prints a line and exits with code 3 at once;
--mode hog: holds 300 MB from the start.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode = sys.argv[sys.argv.index("--mode") + 1] if "--mode" in sys.argv else "serve"
port = int(os.environ["PORT"])
print(f"hf test server starting on port {port} (mode {mode}, key {os.environ.get('SECRET_KEY', 'none')})", flush=True)
if mode == "hog":
    hog = b"x" * (300 * 1024 * 1024)  # resident at once: over a 128 MB memory budget
if mode == "exit":
    print("fatal: configuration refused, exiting", file=sys.stderr, flush=True)
    sys.exit(3)


class Handler(BaseHTTPRequestHandler):
    def _send(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self._send(503 if mode == "never-healthy" else 200, {"ok": mode != "never-healthy"})
        self._send(404, {"error": f"no route GET {self.path}"})

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        try:
            text = json.loads(self.rfile.read(length) or b"{}").get("inputs")
        except ValueError:
            return self._send(400, {"error": "body is not JSON"})
        if not isinstance(text, str):
            return self._send(400, {"error": "inputs must be a string"})
        # Hugging Face's text-classification shape: one list of labels per input.
        self._send(200, [[{"label": text[::-1].upper(), "score": len(text) / 100}]])

    def log_message(self, fmt, *args):
        if self.path != "/health":  # modelhost polls it while starting: not worth a log line each time
            print(f"request: {fmt % args}", flush=True)


ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
