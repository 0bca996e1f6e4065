"""api/openapi.yaml against real answers of a running stack: every answer
the test provokes has a documented status, media type, required headers and
a body that fits its schema (no undocumented field: the schemas are closed);
and every documented status of every operation, and every field of every
response schema, was seen in some answer. The faults behind 502 and 503
(the pool stopped; Redis and MariaDB killed) are staged here; the one
documented answer not staged is named in NOT_STAGED with the reason."""

import json
import os
import re
import signal
import unittest

import yaml

from harness import TOP, Proc, Stack, popup_row, uid

SPEC = os.path.join(TOP, "api", "openapi.yaml")
# 504 needs the pool to hang past nginx's fastcgi_read_timeout (10 s) for
# each operation, and healthz's 503 a worker holding no configuration while
# Redis and MySQL are both down; both are the same nginx / service code
# paths as the 502 and 503 staged here. 429 needs 64 requests in progress
# from one non-loopback address (test_hostile stages it against nginx).
# The metrics' 404 needs admin_listen, which this stack does not set
# (test_admin_listen stages it).
NOT_STAGED = {("/api/metrics", "get", "404"), ("/api/popup", "get", "504"), ("/api/popup/action", "post", "504"),
              ("/api/healthz", "get", "504"), ("/api/healthz", "get", "503"),
              ("/api/popup", "get", "429"), ("/api/popup/action", "post", "429")}

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


def resolve(node):
    """(schema or response, its component name or None) after a $ref."""
    name = None
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].lstrip("#/").split("/")
        name = parts[-1]
        node = spec
        for p in parts:
            node = node[p]
    return node, name


def validate(value, schema, where="body"):
    """Raises AssertionError when value does not fit the JSON Schema subset
    the file uses; records the properties of named schemas it met."""
    schema, name = resolve(schema)
    if "oneOf" in schema:
        fits = []
        for option in schema["oneOf"]:
            before = set(seen_fields)
            try:
                validate(value, option, where)
                fits.append(option)
            except AssertionError:
                seen_fields.intersection_update(before)  # a failed option saw nothing
        assert len(fits) == 1, "%s fits %d of the oneOf options: %r" % (where, len(fits), value)
        return
    types = {"null": type(None), "boolean": bool, "string": str, "object": dict, "array": list}
    t = schema.get("type")
    if t == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), "%s: not an integer: %r" % (where, value)
    elif t:
        assert isinstance(value, types[t]), "%s: not a %s: %r" % (where, t, value)
    if "const" in schema:
        assert value == schema["const"], "%s: %r is not %r" % (where, value, schema["const"])
    if "enum" in schema:
        assert value in schema["enum"], "%s: %r not in %r" % (where, value, schema["enum"])
    if "minimum" in schema:
        assert value >= schema["minimum"], "%s: %r < %r" % (where, value, schema["minimum"])
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), "%s: %r does not match %s" % (where, value, schema["pattern"])
    if t == "object":
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            assert k in value, "%s: required field %s is missing: %r" % (where, k, value)
        for k, v in value.items():
            if k not in props:
                assert schema.get("additionalProperties", True) is not False, \
                    "%s: undocumented field %s: %r" % (where, k, value)
                continue
            if name:
                seen_fields.add((name, k))
            validate(v, props[k], "%s.%s" % (where, k))


def check(path, method, reply):
    """Checks one real answer against the operation's documentation."""
    op = spec["paths"][path][method]
    status = str(reply.status)
    assert status in op["responses"], "%s %s answered undocumented %s: %r" % (method, path, status, reply)
    doc, _ = resolve(op["responses"][status])
    for h, hd in (doc.get("headers") or {}).items():
        if hd.get("required"):
            assert h.lower() in reply.headers, "%s %s %s: no %s header" % (method, path, status, h)
        if h.lower() in reply.headers and "const" in hd["schema"]:
            assert reply.headers[h.lower()] == hd["schema"]["const"], (h, reply.headers)
    content = doc.get("content")
    if method == "head" or not content:
        assert reply.data == b"", "%s %s %s: a body where none is documented" % (method, path, status)
    else:
        ctype = reply.headers.get("content-type", "").split(";")[0].strip()
        assert ctype in content, "%s %s %s: undocumented media type %s" % (method, path, status, ctype)
        if ctype == "application/json":
            validate(json.loads(reply.data), content[ctype]["schema"], "%s %s %s" % (method, path, status))
    seen_status.add((path, method, status))
    return reply


def documented():
    out = set()
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for status in op["responses"]:
                out.add((path, method, str(status)))
    return out


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
        check("/api/popup/action", "post", c.request(
            "POST", "/api/popup/action", body="uid=%s&popup_id=1&action=click&pad=%s" % (u, "x" * 5000),
            headers=form))
        check("/api/healthz", "get", c.request("GET", "/api/healthz"))
        check("/api/metrics", "get", c.request("GET", "/api/metrics"))
        # From outside admin_networks, straight to the pool (nginx would
        # refuse the request before it).
        check("/api/metrics", "get", stack.fcgi({"DOCUMENT_URI": "/api/metrics", "REMOTE_ADDR": "192.0.2.7"}))

    def test_2_redis_and_mysql_down_answer_503_and_a_degraded_health(self):
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
            check("/api/popup/action", "post", stack.act(u, 1, "click", conn=c))
            self.assertIn(("/api/popup/action", "post", "503"), seen_status)
            # healthz reads each worker's MySQL probe, which notices within
            # a probe interval (0.5 s).
            def health():
                return check("/api/healthz", "get", c.request("GET", "/api/healthz")).json()
            self.assertTrue(stack.wait_for(lambda: health()["mysql"] == "down", timeout=30))
            h = health()
            self.assertEqual((h["redis"], h["mysql"], h["queue_depth"]), ("down", "down", -1))
        finally:
            redis.start()
            db.start()
        self.assertTrue(stack.wait_for(stack.mariadb_answers, timeout=60))
        stack.wait_healthy()

    def test_3_a_stopped_pool_is_nginx_502(self):
        pool = Proc(stack, "popupd", "popupd.log", pidfile="popupd.pid")
        pool.kill(signal.SIGTERM, wait=60)
        try:
            c = stack.http()
            check("/api/popup", "get", stack.get_popup(uid("gw"), conn=c))
            check("/api/popup/action", "post", stack.act(uid("gw"), 1, "click", conn=c))
            check("/api/healthz", "get", c.request("GET", "/api/healthz"))
        finally:
            stack.start()
        stack.wait_healthy()

    def test_4_every_documented_status_and_field_was_seen(self):
        missing = documented() - seen_status - NOT_STAGED
        self.assertEqual(missing, set(), "documented but never answered")
        self.assertEqual(NOT_STAGED - documented(), set(), "NOT_STAGED names answers the file lacks")
        fields = set()
        for name, schema in spec["components"]["schemas"].items():
            if name in ("Action",):  # a request body, not an answer
                continue
            for k in schema.get("properties", {}):
                fields.add((name, k))
        self.assertEqual(fields - seen_fields, set(), "documented fields never seen in an answer")


if __name__ == "__main__":
    unittest.main()
