#!/usr/bin/env python3
"""Runs deploy/nifi/import-flow.sh against a stand-in of NiFi 2.11's REST API (HTTPS, a
self-signed certificate made with the openssl CLI), twice: the first run must log in, upload the
flow definition into the root group with the parameters from FLOW_PARAM_* (the sensitive one
included) and start the group; the second must find the group and change nothing. Also checks
that a wrong password and a sensitive parameter without a value fail.

Needs python3, openssl, curl and jq (the apache/nifi image has curl and jq). No Docker.
Usage: python3 deploy/nifi/check-import-flow.py
"""

import email.parser
import email.policy
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy/nifi/import-flow.sh"
FLOW = ROOT / "nifi-templates/snowstream-ingest.flow.json"
TOKEN = "jwt-for-admin"
ROOT_ID = "root-0000"


class NiFi:
    """What the stand-in holds: the groups under root and every call made."""

    def __init__(self):
        self.groups = {}  # id -> {"name", "flow", "state"}
        self.calls = []


def handler_for(nifi):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def answer(self, code, body):
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self):
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def authorized(self):
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self.answer(401, "Unauthorized")
                return False
            return True

        def do_POST(self):
            nifi.calls.append(("POST", self.path))
            if self.path == "/nifi-api/access/token":
                form = parse_qs(self.body().decode())
                if form.get("username") == ["admin"] and form.get("password") == ["pw-123456789012"]:
                    return self.answer(201, TOKEN)
                return self.answer(400, "The supplied username and password are not valid.")
            if not self.authorized():
                return
            if self.path == f"/nifi-api/process-groups/{ROOT_ID}/process-groups/upload":
                head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
                msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + self.body())
                fields = {p.get_param("name", header="content-disposition"): p.get_content()
                          for p in msg.iter_parts()}
                for f in ("groupName", "positionX", "positionY", "clientId", "file"):
                    if f not in fields:
                        return self.answer(400, f"{f} missing")
                flow = fields["file"]
                flow = json.loads(flow if isinstance(flow, str) else flow.decode())
                gid = f"group-{len(nifi.groups) + 1}"
                nifi.groups[gid] = {"name": fields["groupName"], "flow": flow, "state": "STOPPED"}
                return self.answer(201, {"id": gid, "component": {"id": gid, "name": fields["groupName"]}})
            self.answer(404, "not found")

        def do_GET(self):
            nifi.calls.append(("GET", self.path))
            if not self.authorized():
                return
            if self.path == "/nifi-api/flow/process-groups/root":
                return self.answer(200, {"processGroupFlow": {"id": ROOT_ID}})
            if self.path == f"/nifi-api/process-groups/{ROOT_ID}/process-groups":
                groups = [{"id": g, "component": {"id": g, "name": v["name"]}} for g, v in nifi.groups.items()]
                return self.answer(200, {"processGroups": groups})
            gid = self.path.rsplit("/", 1)[-1]
            if self.path.startswith("/nifi-api/process-groups/") and gid in nifi.groups:
                running = 4 if nifi.groups[gid]["state"] == "RUNNING" else 0
                return self.answer(200, {"id": gid, "runningCount": running, "invalidCount": 0})
            self.answer(404, "not found")

        def do_PUT(self):
            nifi.calls.append(("PUT", self.path))
            if not self.authorized():
                return
            gid = self.path.rsplit("/", 1)[-1]
            body = json.loads(self.body())
            if self.path.startswith("/nifi-api/flow/process-groups/") and gid in nifi.groups:
                if body != {"id": gid, "state": "RUNNING"}:
                    return self.answer(400, f"unexpected body {body}")
                nifi.groups[gid]["state"] = "RUNNING"
                return self.answer(200, body)
            self.answer(404, "not found")

    return Handler


def run(url, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("FLOW_PARAM_")}
    base.update({"NIFI_URL": url, "FLOW_FILE": str(FLOW), "WAIT_SECONDS": "10",
                 "NIFI_USERNAME": "admin", "NIFI_PASSWORD": "pw-123456789012"})
    base.update(env)
    return subprocess.run(["sh", str(SCRIPT)], env=base, capture_output=True, text=True, timeout=120)


def main():
    nifi = NiFi()
    with tempfile.TemporaryDirectory() as tmp:
        key, cert = Path(tmp, "key.pem"), Path(tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=nifi", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True)
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(nifi))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"https://127.0.0.1:{server.server_address[1]}"
        failures = []

        def expect(ok, what, result):
            if not ok:
                failures.append(f"{what}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}")

        params = {"FLOW_PARAM_snowstream_authorization": "Bearer tok-1",
                  "FLOW_PARAM_snowstream_stream": "customers"}
        first = run(url, **params)
        expect(first.returncode == 0, "first run failed", first)
        expect(len(nifi.groups) == 1, "first run did not create one group", first)
        if nifi.groups:
            g = next(iter(nifi.groups.values()))
            values = {p["name"]: p.get("value") for c in g["flow"]["parameterContexts"].values()
                      for p in c["parameters"]}
            expect(g["name"] == "snowstream ingest", f"group named {g['name']!r}", first)
            expect(values.get("snowstream_authorization") == "Bearer tok-1",
                   "sensitive parameter not set in the uploaded definition", first)
            expect(g["state"] == "RUNNING", "group not started", first)
        calls_before = len(nifi.calls)
        second = run(url, **params)
        expect(second.returncode == 0 and "already there" in second.stdout, "second run not a no-op", second)
        expect(len(nifi.groups) == 1, "second run created another group", second)
        expect(not any(m != "GET" for m, p in nifi.calls[calls_before:] if "access/token" not in p),
               "second run changed something", second)

        nifi.groups.clear()
        wrong = run(url, NIFI_PASSWORD="wrong-password", WAIT_SECONDS="1", **params)
        expect(wrong.returncode != 0 and not nifi.groups, "wrong password did not fail", wrong)
        unset = run(url, FLOW_PARAM_snowstream_stream="customers")
        expect(unset.returncode != 0 and "snowstream_authorization" in unset.stderr,
               "missing sensitive value did not fail", unset)
        typo = run(url, FLOW_PARAM_snowstream_autorization="x", **params)
        expect(typo.returncode != 0 and "snowstream_autorization" in typo.stderr,
               "unknown parameter did not fail", typo)
        server.shutdown()

    for f in failures:
        print("FAILED:", f, file=sys.stderr)
    if failures:
        sys.exit(1)
    print("ok: import-flow.sh imports and starts the flow once, then leaves it alone")


if __name__ == "__main__":
    main()
