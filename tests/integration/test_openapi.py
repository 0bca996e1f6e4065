"""api/openapi.yaml: the two validators a frontend developer runs (redocly
lint, swagger-cli validate) accept it, and it matches real answers of a
running stack. Every answer the test provokes through nginx has a status
the operation documents, the documented media type and required headers,
and a body that fits the documented JSON Schema (checked with jsonschema,
draft 2020-12, the dialect of OpenAPI 3.1; the schemas are closed, so an
undocumented field fails); and every documented status of every operation,
and every field of every answer schema, was seen in some answer.

The answers nginx gives itself are staged for every operation: 413 (a body
over 4 KiB), 414 (a request line over 8 KiB), 501 (an unknown transfer
coding), 505 (HTTP/3.0), 400 (a malformed chunked body or no Host), 405
(TRACE and the methods a path does not serve), 429 (64 requests held from
one non-loopback address), 403 (/api/metrics from it) and 502 (the pool
stopped); 503 with Redis and MariaDB killed. What is not staged is named
in not_staged() with the reason."""

import json
import os
import shutil
import signal
import socket
import subprocess
import unittest

import jsonschema
import yaml

from harness import TOP, Proc, Reply, Stack, popup_row, uid

SPEC = os.path.join(TOP, "api", "openapi.yaml")
NPM_BIN = os.path.join(TOP, ".deps", "npm", "node_modules", ".bin")
LONG_URI_CHARS = 9000  # over nginx's large_client_header_buffers (8 KiB)
BIG_BODY = 5000        # over client_max_body_size (4 KiB)
OTHER_ADDR = "127.0.0.2"  # not loopback's 127.0.0.1: limit_conn and allow apply

stack = None
spec = None
seen_status = set()   # (path, method, status)
seen_fields = set()   # (schema name, property)


def setUpModule():
    global stack, spec
    with open(SPEC) as f:
        spec = yaml.safe_load(f)
    stack = Stack(CORS_ORIGINS="https://shop.example").start()


def tearDownModule():
    if stack:
        stack.stop()


def not_staged():
    """Documented answers this test need not see, and why: 500 is nginx
    failing on its own side (no request makes it); 504 needs the pool to
    hang past nginx's 10 s read timeout (the same nginx path as the 502
    staged here); healthz's 503 needs a worker holding no configuration
    while Redis and MySQL are both down; /api/metrics' 404 needs
    admin_listen, which test_admin_listen stages."""
    out = set()
    for path, method, status in documented():
        if status in ("500", "504") or (path, status) in (("/api/healthz", "503"),
                                                          ("/api/metrics", "404")):
            out.add((path, method, status))
    return out


def operations():
    return [(path, method) for path, ops in spec["paths"].items() for method in ops]


def documented():
    return {(path, method, str(status)) for path, method in operations()
            for status in spec["paths"][path][method]["responses"]}


def resolve(node):
    """(the object a $ref points to, the last part of the $ref or None)."""
    name = None
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        name = parts[-1]
        node = spec
        for p in parts:
            node = node[p]
    return node, name


def validate(value, schema, where):
    """jsonschema's draft 2020-12 validator against `schema`, whose $refs
    point into api/openapi.yaml; then records which properties of which
    named schemas the value carried (for the field coverage)."""
    resolver = jsonschema.RefResolver.from_schema(spec)
    try:
        jsonschema.Draft202012Validator(schema, resolver=resolver).validate(value)
    except jsonschema.ValidationError as e:
        raise AssertionError("%s: %s\n%r" % (where, e.message, value)) from None
    record_fields(value, schema)


def record_fields(value, schema, name=None):
    schema, ref_name = resolve(schema)
    name = ref_name or name
    for sub in schema.get("allOf", []):
        record_fields(value, sub, name)
    for option in schema.get("oneOf", []):
        if jsonschema.Draft202012Validator(
                option, resolver=jsonschema.RefResolver.from_schema(spec)).is_valid(value):
            record_fields(value, option)
    if isinstance(value, dict):
        for k, v in value.items():
            if k in schema.get("properties", {}):
                if name:
                    seen_fields.add((name, k))
                record_fields(v, schema["properties"][k])


def check(path, method, reply):
    """Checks one real answer against the operation's documentation."""
    op = spec["paths"][path][method]
    status = str(reply.status)
    where = "%s %s %s" % (method.upper(), path, status)
    assert status in op["responses"], "%s is not documented: %r %r" % (where, reply, reply.headers)
    doc, _ = resolve(op["responses"][status])
    for h, hd in (doc.get("headers") or {}).items():
        hd, _ = resolve(hd)
        if hd.get("required"):
            assert h.lower() in reply.headers, "%s: no %s header" % (where, h)
        if h.lower() in reply.headers:
            validate(reply.headers[h.lower()], hd["schema"], "%s: header %s" % (where, h))
    content = doc.get("content")
    if method == "head" or not content:
        assert reply.data == b"", "%s: a body where none is documented: %r" % (where, reply.data[:200])
    else:
        ctype = reply.headers.get("content-type", "").split(";")[0].strip()
        assert ctype in content, "%s: undocumented media type %r" % (where, ctype)
        if ctype == "application/json":
            validate(json.loads(reply.data), content[ctype]["schema"], where)
    seen_status.add((path, method, status))
    return reply


def raw(head, body=b"", source=None):
    """One request sent as the bytes given (for what http.client will not
    send: a bad version, a bad chunk, no Host), from `source` when given;
    the answer read to EOF (nginx closes after these). Reply like Http's."""
    s = socket.socket()
    try:
        if source:
            s.bind((source, 0))
        s.settimeout(15)
        s.connect(("127.0.0.1", stack.port))
        s.sendall(head + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    return parse_reply(data)


def parse_reply(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while True:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return Reply(status, headers, body)


def request(method, path, headers=None, body=b"", version="HTTP/1.1", source=None):
    """`method path` over a connection of its own, closed after the answer."""
    h = {"Host": "popup.test", "Connection": "close"}
    h.update(headers or {})
    if body and "Transfer-Encoding" not in h:
        h["Content-Length"] = str(len(body))
    lines = ["%s %s %s" % (method.upper(), path, version)] + ["%s: %s" % kv for kv in h.items() if kv[1]]
    return raw(("\r\n".join(lines) + "\r\n\r\n").encode(), body, source)


def sample_path(path):
    return path + ("?uid=" + uid("op") if path == "/api/popup" else "")


class Validators(unittest.TestCase):
    """The validators the frontend developer runs, from .deps/npm (make
    deps installs them), else fetched by npx when the registry is reachable."""

    def run_tool(self, tool, package, *args):
        local = os.path.join(NPM_BIN, tool)
        if os.access(local, os.X_OK):
            argv = [local]
        elif shutil.which("npx"):
            argv = ["npx", "--yes", "--package", package, tool]
        else:
            self.skipTest("neither .deps/npm/.bin/%s (make deps) nor npx" % tool)
        r = subprocess.run(argv + list(args), cwd=TOP, capture_output=True, text=True, timeout=300)
        if argv[0] == "npx" and r.returncode != 0 and "ENOTFOUND" in r.stderr + r.stdout:
            self.skipTest("npx cannot reach the npm registry; run make deps once online")
        return r

    def test_redocly_lint_reports_no_error_and_no_warning(self):
        r = self.run_tool("redocly", "@redocly/cli@2.77.0", "lint", "--format=stylish", "api/openapi.yaml")
        out = r.stdout + r.stderr
        self.assertEqual(r.returncode, 0, out)
        self.assertIn("Your API description is valid", out)
        self.assertNotIn("warning", out.replace("Deprecation warning", ""))

    def test_swagger_cli_validate_accepts_it(self):
        r = self.run_tool("swagger-cli", "@apidevtools/swagger-cli@4.0.4", "validate", "api/openapi.yaml")
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "api/openapi.yaml is valid"), r.stderr)

    def test_the_schemas_are_valid_json_schema_2020_12(self):
        for name, schema in spec["components"]["schemas"].items():
            jsonschema.Draft202012Validator.check_schema(schema)


class OpenApi(unittest.TestCase):
    # Named so they run in this order: answers first, faults next, coverage last.
    def test_1_ordinary_answers_fit_the_description(self):
        stack.set_popups([popup_row(1, title="<b>Sale</b>", image_url="https://x.example/i.png",
                                    link_url="https://x.example/", button_text="Shop now")])
        c = stack.http()
        u = uid("oa")
        q = "/api/popup?uid=%s&platform=web&version=1.2&lang=en" % u
        check("/api/popup", "head", c.request("HEAD", q))
        self.assertIsNotNone(check("/api/popup", "get", c.request("GET", q)).json()["popup"])
        self.assertIsNone(check("/api/popup", "get", c.request("GET", q)).json()["popup"])
        check("/api/popup", "get", c.request("GET", "/api/popup?platform=tv"))
        check("/api/popup", "head", c.request("HEAD", "/api/popup?uid=a%20b"))
        for path in ("/api/popup", "/api/popup/action", "/api/healthz"):
            r = check(path, "options", c.request("OPTIONS", path, headers={
                "Origin": "https://shop.example", "Access-Control-Request-Method": "POST"}))
            self.assertEqual(r.headers.get("access-control-allow-origin"), "https://shop.example")
        r = check("/api/popup", "get", c.request("GET", q, headers={"Origin": "https://shop.example"}))
        self.assertEqual((r.headers.get("access-control-allow-origin"), r.headers.get("vary")),
                         ("https://shop.example", "Origin"))
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        check("/api/popup/action", "post", c.request(
            "POST", "/api/popup/action?uid=" + u, body="popup_id=1&action=click", headers=form))
        check("/api/popup/action", "post", c.request(
            "POST", "/api/popup/action", body=json.dumps({"uid": u, "popup_id": 1, "action": "ignore"}),
            headers={"Content-Type": "application/json", "Idempotency-Key": "k-" + u}))
        check("/api/popup/action", "post", c.request(
            "POST", "/api/popup/action", body="uid=%s&popup_id=1&action=ignore&action_id=t%s" % (u, u),
            headers={"Content-Type": "text/plain;charset=UTF-8"}))
        check("/api/popup/action", "post", c.request(
            "POST", "/api/popup/action", body="uid=%s&popup_id=1&action=like" % u, headers=form))
        check("/api/popup/action", "post", c.request(
            "POST", "/api/popup/action", body="uid=%s&popup_id=424242&action=click" % u, headers=form))
        check("/api/healthz", "get", c.request("GET", "/api/healthz"))
        check("/api/healthz", "head", c.request("HEAD", "/api/healthz"))
        check("/api/metrics", "get", c.request("GET", "/api/metrics"))
        check("/api/metrics", "head", c.request("HEAD", "/api/metrics"))
        # From outside admin_networks, straight to the pool (nginx would
        # refuse the request before it), and through nginx from an address
        # its allow list does not have.
        check("/api/metrics", "get", stack.fcgi({"DOCUMENT_URI": "/api/metrics", "REMOTE_ADDR": "192.0.2.7"}))
        for method in spec["paths"]["/api/metrics"]:
            if method == "trace":
                continue  # refused before nginx looks at the address
            r = check("/api/metrics", method, request(method, "/api/metrics", source=OTHER_ADDR))
            self.assertEqual(r.status, 403, method)
        # An unknown /api/ path: the NotFound answer.
        r = c.request("GET", "/api/nope")
        self.assertEqual(r.status, 404)
        validate(r.json(), spec["components"]["responses"]["NotFound"]["content"]["application/json"]["schema"],
                 "GET /api/nope")

    def test_2_methods_a_path_does_not_serve_answer_405_as_described(self):
        c = stack.http()
        for path, method in operations():
            op = spec["paths"][path][method]
            if "405" not in op["responses"]:
                continue
            r = check(path, method, c.request(method.upper(), sample_path(path)))
            self.assertEqual(r.status, 405, (method, path, r))
            if method == "trace":
                # nginx refuses TRACE before any location: no Allow.
                self.assertNotIn("allow", r.headers)
            else:
                served = [m.upper() for m in spec["paths"][path] if "405" not in spec["paths"][path][m]["responses"]]
                self.assertEqual(sorted(r.headers["allow"].split(", ")), sorted(served), (method, path))

    def test_3_nginx_answers_its_own_errors_as_described_for_every_operation(self):
        for path, method in operations():
            p = sample_path(path)
            big = request(method, p, {"Content-Type": "application/x-www-form-urlencoded"},
                          b"x" * BIG_BODY)
            self.assertEqual(check(path, method, big).status, 405 if method == "trace" else 413,
                             (method, path))
            long = check(path, method, request(method, p + ("&" if "?" in p else "?") + "x" * LONG_URI_CHARS))
            self.assertEqual(long.status, 414, (method, path))
            coding = check(path, method, request(method, p, {"Transfer-Encoding": "gzip"}, b"x"))
            self.assertEqual(coding.status, 501, (method, path))
            version = check(path, method, request(method, p, version="HTTP/3.0"))
            self.assertEqual(version.status, 505, (method, path))
            if method != "trace":  # nginx's HTML 400 (the comment on the test below)
                chunk = check(path, method, request(method, p, {"Transfer-Encoding": "chunked"},
                                                    b"zz\r\nx\r\n0\r\n\r\n"))
                self.assertEqual(chunk.status, 400, (method, path))
            no_host = check(path, method, request(method, p, {"Host": ""}))
            self.assertEqual(no_host.status, 400, (method, path))

    def test_4_one_address_over_its_limit_gets_429_as_described(self):
        held = []
        try:
            for _ in range(64):
                s = socket.socket()
                s.bind((OTHER_ADDR, 0))
                s.settimeout(10)
                s.connect(("127.0.0.1", stack.port))
                s.sendall(b"POST /api/popup/action HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                          b"Content-Type: application/x-www-form-urlencoded\r\n\r\nuid=")
                held.append(s)
            self.assertTrue(stack.wait_for(lambda: stack.in_flight() >= 64, timeout=30))
            for path, method in operations():
                if method == "trace":
                    continue  # refused before the limit is counted
                # A byte on every held body, so that client_body_timeout
                # (5 s between two reads) keeps them in progress.
                for s in held:
                    s.sendall(b"x")
                r = check(path, method, request(method, sample_path(path), source=OTHER_ADDR))
                self.assertEqual(r.status, 429, (method, path))
        finally:
            for s in held:
                s.close()

    def test_5_redis_and_mysql_down_answer_503_and_a_degraded_health(self):
        stack.set_popups([popup_row(1)])
        c = stack.http()
        db = Proc(stack, "mariadbd", "mariadb.log")
        redis = Proc(stack, "redis-server", "redis.log", pidfile="redis.pid",
                     argv=["redis-server", stack.path("redis.conf")])
        db.kill(signal.SIGKILL)
        redis.kill(signal.SIGKILL)
        try:
            u = uid("down")
            self.assertTrue(stack.wait_for(
                lambda: check("/api/popup", "get", stack.get_popup(u, conn=c)).status == 503, timeout=60))
            check("/api/popup", "head", c.request("HEAD", "/api/popup?uid=" + uid("down")))
            check("/api/popup/action", "post", stack.act(u, 1, "click", conn=c))
            self.assertIn(("/api/popup/action", "post", "503"), seen_status)
            self.assertIn(("/api/popup", "head", "503"), seen_status)
            # healthz reads the answering worker's MySQL probe, which notices
            # within a probe interval (0.5 s); each request may reach another
            # worker, so the answer that saw both down is the one checked.
            last = {}

            def both_down():
                last.update(check("/api/healthz", "get", c.request("GET", "/api/healthz")).json())
                return (last["redis"], last["mysql"]) == ("down", "down")
            self.assertTrue(stack.wait_for(both_down, timeout=30), last)
            self.assertEqual(last["queue_depth"], -1)
        finally:
            redis.start()
            db.start()
        self.assertTrue(stack.wait_for(stack.mariadb_answers, timeout=60))
        stack.wait_healthy()

    def test_6_a_stopped_pool_is_nginx_502_for_every_operation(self):
        pool = Proc(stack, "popupd", "popupd.log", pidfile="popupd.pid")
        pool.kill(signal.SIGTERM, wait=60)
        try:
            c = stack.http()
            for path, method in operations():
                if method == "trace":
                    continue  # refused before the pool is asked
                r = check(path, method, c.request(method.upper(), sample_path(path)))
                self.assertEqual(r.status, 502, (method, path))
        finally:
            stack.start()
        stack.wait_healthy()

    def test_7_every_documented_status_and_field_was_seen(self):
        missing = documented() - seen_status - not_staged()
        self.assertEqual(missing, set(), "documented but never answered")
        # not_staged() is what need not be seen; some of it may be (healthz's
        # 503 when a worker restarts while both stores are down).
        self.assertLess(len(not_staged()), len(documented()) / 4)
        fields = set()
        for name, schema in spec["components"]["schemas"].items():
            if name in ("Action",):  # a request body, not an answer
                continue
            for k in schema.get("properties", {}):
                fields.add((name, k))
        self.assertEqual(fields - seen_fields, set(), "documented fields never seen in an answer")


if __name__ == "__main__":
    unittest.main()
