#!/usr/bin/env python3
"""tests/conformance/test_hubspot_conformance.py - the sandbox's HubSpot API against HubSpot's specs.

Design: starts BUILD/bin/hoopsync-sandbox (--port 0 --seed 7 --token T), then one Prism
validating proxy (`prism proxy --errors`) per HubSpot spec file in shared/specs/hubspot, all in
parallel, each pointing at http://127.0.0.1:PORT/hubspot. Every endpoint the sandbox serves
is exercised through the proxy of its spec, on success and error paths (404, 400, 207, 409,
401), and the test fails when Prism answers 422/500 with validation errors or sets an
`sl-violations` header (request or response outside the spec), or when the sandbox answers
another status than HubSpot would. Only the stdlib is used. Exit 77 (skipped) when Prism, the
specs or the sandbox binary are missing, with the reason printed.
Prism: SOURCE/build/tools/prism/node_modules/.bin/prism (scripts/deps.sh), or $HS_PRISM.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prism_proxies  # noqa: E402

SPEC_FILES = {
    "companies": "crm-companies-v3.json",
    "contacts": "crm-contacts-v3.json",
    "deals": "crm-deals-v3.json",
    "line_items": "crm-line-items-v3.json",
    "products": "crm-products-v3.json",
    "properties": "crm-properties-v3.json",
    "pipelines": "crm-pipelines-v3.json",
    "associations": "crm-associations-v4.json",
    "oauth1": "oauth-v1.json",
    "oauth3": "oauth-v3.json",
    "objects": "crm-objects-v3.json",
}

TOKEN = "T"
failures = []
checked = 0


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def missing_tool(why):
    """A tool scripts/deps.sh installs is missing: a skip on a user's machine, a failure in CI
    (where deps.sh always runs), so that conformance can never be skipped silently there."""
    if os.environ.get("CI"):
        print(f"FAIL: {why}")
        sys.exit(1)
    skip(why)


class Client:
    def __init__(self, name, port):
        self.name = name
        self.port = port

    def req(self, method, path, body=None, want=None, token=TOKEN, form=False, query=None):
        """Sends one request through the proxy; records failures; returns (status, json, headers)."""
        global checked
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        headers = {"Accept": "application/json"}
        data = None
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        for attempt in range(15):
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            hdrs = {k.lower(): v for k, v in resp.getheaders()}
            conn.close()
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = None
            rate_limited = resp.status == 429 and isinstance(doc, dict) and doc.get("errorType") == "RATE_LIMIT"
            if not rate_limited or want == 429:
                break
            time.sleep(0.1 * (attempt + 1))  # the sandbox's own limits: wait them out
        checked += 1
        what = f"[{self.name}] {method} {path}"
        if "sl-violations" in hdrs:
            failures.append(f"{what}: sl-violations: {hdrs['sl-violations']}")
        if resp.status in (422, 500) and isinstance(doc, dict) and (
            "validation" in doc or str(doc.get("type", "")).startswith("https://stoplight.io")
        ):
            failures.append(f"{what}: Prism {resp.status}: {json.dumps(doc.get('validation', doc))[:2000]}")
        elif want is not None and resp.status != want:
            failures.append(f"{what}: status {resp.status}, expected {want}: {raw[:500]!r}")
        return resp.status, doc, hdrs


def admin(port, method, path, body):
    """Calls the sandbox's admin API directly (not through Prism: it is not HubSpot's)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    if r.status != 200:
        failures.append(f"admin {method} {path}: {r.status} {raw[:200]!r}")


def start_sandbox(binary):
    proc = subprocess.Popen(
        # rate limits stay on (their headers are checked too), with windows 20 times shorter
        [binary, "--port", "0", "--seed", "7", "--token", TOKEN, "--time-scale", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.time() + 30
    seen = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        seen.append(line)
        m = re.search(r"127\.0\.0\.1:(\d+)", line) or re.search(r"\bport\D{0,3}(\d{2,5})", line, re.I)
        if m is None and re.fullmatch(r"\s*\d{2,5}\s*", line):
            m = re.match(r"\s*(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    print("hoopsync-sandbox did not print its port:\n" + "".join(seen))
    sys.exit(1)


# The deals spec names its paths by object type id (/crm/v3/objects/0-3/...); the sandbox
# accepts both forms, and the generic objects spec checks the /crm/v3/objects/deals form.
PATH_SEGMENT = {"deals": "0-3"}


def exercise_objects(c, t, seg=None):
    """CRUD, list, batch and search of one object type through its spec's proxy."""
    props = {
        "companies": {"name": "Conformance Co", "domain": "conformance.example", "city": "Lyon"},
        "contacts": {"email": f"conf-{int(time.time() * 1000)}@conformance.example", "firstname": "Ada"},
        "deals": {"dealname": "Conformance deal", "amount": "1200.50", "dealstage": "qualifiedtobuy",
                  "pipeline": "default", "closedate": "2025-03-01T00:00:00Z"},
        "line_items": {"name": "Widget", "quantity": "2", "price": "10.00"},
        "products": {"name": "Conformance product", "price": "99.90", "hs_sku": "CONF-1"},
    }[t]
    name_prop = {"contacts": "firstname", "deals": "dealname"}.get(t, "name")
    base = f"/crm/v3/objects/{seg or PATH_SEGMENT.get(t, t)}"
    _, doc, _ = c.req("POST", base, {"properties": props, "associations": []}, want=201)
    oid = doc["id"] if isinstance(doc, dict) and "id" in doc else "0"
    c.req("GET", f"{base}/{oid}", want=200,
          query={"properties": list(props), "associations": ["companies"], "archived": "false"})
    c.req("GET", f"{base}/{oid}", want=200)
    c.req("GET", f"{base}/999999999", want=404)
    c.req("PATCH", f"{base}/{oid}", {"properties": {name_prop: "Renamed"}}, want=200)
    _, doc, _ = c.req("GET", base, want=200, query={"limit": "2", "properties": [name_prop]})
    after = (((doc or {}).get("paging") or {}).get("next") or {}).get("after")
    if after:
        c.req("GET", base, want=200, query={"limit": "2", "after": after})
    c.req("GET", base, want=400, query={"limit": "101"})
    c.req("POST", f"{base}/search", {
        "filterGroups": [{"filters": [
            {"propertyName": name_prop, "operator": "EQ", "value": "Renamed"},
            {"propertyName": "hs_object_id", "operator": "HAS_PROPERTY"}]}],
        "sorts": ["hs_object_id"], "properties": [name_prop], "limit": 5, "after": "0"}, want=200)
    c.req("POST", f"{base}/search", {"filterGroups": [], "sorts": [], "properties": [],
                                     "limit": 100, "after": "9950"}, want=400)
    inputs = [{"properties": {name_prop: f"Batch {i}"}, "associations": []} for i in range(2)]
    _, doc, _ = c.req("POST", f"{base}/batch/create", {"inputs": inputs}, want=201)
    ids = [r["id"] for r in (doc or {}).get("results", [])]
    c.req("POST", f"{base}/batch/read", {"inputs": [{"id": i} for i in ids] + [{"id": "999999999"}],
                                         "properties": [name_prop], "propertiesWithHistory": []},
          want=207)
    c.req("POST", f"{base}/batch/read", {"inputs": [{"id": i} for i in ids],
                                         "properties": [name_prop], "propertiesWithHistory": []},
          want=200)
    c.req("POST", f"{base}/batch/update",
          {"inputs": [{"id": i, "properties": {name_prop: "Updated"}} for i in ids]}, want=200)
    c.req("POST", f"{base}/batch/create", {"inputs": [{"properties": {}, "associations": []}] * 101},
          want=400)
    c.req("POST", base, {"properties": {"no_such_property": "x"}, "associations": []}, want=400)
    c.req("POST", f"{base}/batch/archive", {"inputs": [{"id": i} for i in ids]}, want=204)
    c.req("DELETE", f"{base}/{oid}", want=204)
    c.req("GET", base, want=401, token="not-a-token")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--specs", required=True)
    a = ap.parse_args()
    specs = os.path.join(a.specs, "hubspot")
    if not os.path.isdir(specs):
        skip(f"HubSpot specs not found at {specs} (shared/specs is absent in a user's own clone)")
    prism = os.environ.get("HS_PRISM") or os.path.join(a.source, "build/tools/prism/node_modules/.bin/prism")
    if not os.access(prism, os.X_OK):
        missing_tool(f"Prism not found at {prism} (scripts/deps.sh installs it with npm)")
    binary = os.path.join(a.build, "bin", "hoopsync-sandbox")
    if not os.access(binary, os.X_OK):
        skip(f"{binary} not built")

    started = time.time()
    sbx, sbx_port = start_sandbox(binary)
    procs = []
    try:
        upstream = f"http://127.0.0.1:{sbx_port}/hubspot"
        try:
            ports = prism_proxies.start(
                prism, {name: (os.path.join(specs, f), upstream) for name, f in SPEC_FILES.items()}, 90, procs)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        print(f"{len(SPEC_FILES)} Prism proxies ready after {time.time() - started:.1f} s")
        cl = {name: Client(name, ports[name]) for name in SPEC_FILES}

        # properties and groups (also what upsert needs: a unique-value property)
        p = cl["properties"]
        p.req("GET", "/crm/v3/properties/companies", want=200)
        p.req("GET", "/crm/v3/properties/deals/dealstage", want=200)
        p.req("GET", "/crm/v3/properties/deals/not_a_property", want=404)
        p.req("POST", "/crm/v3/properties/companies/groups", {"name": "hoopsync", "label": "Hoopsync",
                                                              "displayOrder": -1}, want=201)
        p.req("POST", "/crm/v3/properties/companies/groups", {"name": "hoopsync", "label": "Hoopsync"},
              want=409)
        p.req("GET", "/crm/v3/properties/companies/groups", want=200)
        p.req("GET", "/crm/v3/properties/companies/groups/hoopsync", want=200)
        prop = {"name": "hoopsync_id", "label": "Hoopsync ID", "type": "string", "fieldType": "text",
                "groupName": "hoopsync", "hasUniqueValue": True}
        p.req("POST", "/crm/v3/properties/companies", prop, want=201)
        p.req("POST", "/crm/v3/properties/companies", prop, want=409)
        p.req("GET", "/crm/v3/properties/companies/hoopsync_id", want=200)

        for t in ("companies", "contacts", "deals", "line_items", "products"):
            exercise_objects(cl[t], t)
        exercise_objects(cl["objects"], "deals", "deals")

        # upsert by the unique property: create, then update
        c = cl["companies"]
        up = {"inputs": [{"id": "ext-1", "idProperty": "hoopsync_id", "properties": {"name": "Upserted"}}]}
        _, doc, _ = c.req("POST", "/crm/v3/objects/companies/batch/upsert", up, want=200)
        if not (doc and doc["results"][0].get("new") is True):
            failures.append(f"upsert #1 did not create: {doc}")
        _, doc, _ = c.req("POST", "/crm/v3/objects/companies/batch/upsert", up, want=200)
        if not (doc and doc["results"][0].get("new") is False):
            failures.append(f"upsert #2 did not update: {doc}")
        dup = {"inputs": [{"properties": {"name": "Dup", "hoopsync_id": "ext-1"}, "associations": []},
                          {"properties": {"name": "Fresh", "hoopsync_id": "ext-2"}, "associations": []}]}
        c.req("POST", "/crm/v3/objects/companies/batch/create", dup, want=207)
        c.req("POST", "/crm/v3/objects/companies", {"properties": {"name": "D", "hoopsync_id": "ext-1"},
                                                    "associations": []}, want=409)
        c.req("GET", "/crm/v3/objects/companies/ext-1", want=200, query={"idProperty": "hoopsync_id"})

        # rate limits: every answer carries HubSpot's X-HubSpot-RateLimit-* headers, and a 429
        # (injected through the admin API, so it does not depend on timing) has HubSpot's body,
        # validated against the spec's error response by Prism like every other answer
        _, _, hdrs = c.req("GET", "/crm/v3/objects/companies", want=200, query={"limit": "1"})
        for h in ("x-hubspot-ratelimit-max", "x-hubspot-ratelimit-remaining",
                  "x-hubspot-ratelimit-interval-milliseconds"):
            if not str(hdrs.get(h, "")).isdigit():
                failures.append(f"rate-limit header {h} missing or not a number: {hdrs.get(h)!r}")
        admin(sbx_port, "POST", "/_sandbox/faults", {"spec": "429=1"})
        try:
            _, doc, hdrs = c.req("GET", "/crm/v3/objects/companies", want=429, query={"limit": "1"})
        finally:
            admin(sbx_port, "POST", "/_sandbox/faults", {"spec": ""})
        if not (isinstance(doc, dict) and doc.get("errorType") == "RATE_LIMIT"
                and doc.get("status") == "error" and doc.get("message")):
            failures.append(f"429 body is not HubSpot's RATE_LIMIT error: {doc!r}")
        if not str(hdrs.get("retry-after", "1")).isdigit():
            failures.append(f"429 Retry-After is not a number of seconds: {hdrs.get('retry-after')!r}")

        # pipelines
        pl = cl["pipelines"]
        pl.req("GET", "/crm/v3/pipelines/deals", want=200)
        pl.req("GET", "/crm/v3/pipelines/deals/default", want=200)
        pl.req("GET", "/crm/v3/pipelines/deals/default/stages", want=200)
        pl.req("GET", "/crm/v3/pipelines/deals/default/stages/closedwon", want=200)
        pl.req("GET", "/crm/v3/pipelines/deals/nope/stages", want=404)

        # associations v4 between fresh records
        def make(t, props):
            _, d, _ = cl[t].req("POST", f"/crm/v3/objects/{PATH_SEGMENT.get(t, t)}",
                                {"properties": props, "associations": []}, want=201)
            return (d or {}).get("id", "0")
        co = make("companies", {"name": "Assoc Co"})
        co2 = make("companies", {"name": "Assoc Co 2"})
        deal = make("deals", {"dealname": "Assoc deal"})
        ct = make("contacts", {"email": f"assoc-{int(time.time() * 1000)}@conformance.example"})
        li = make("line_items", {"name": "Assoc line", "quantity": "1", "price": "5"})
        a = cl["associations"]
        a.req("PUT", f"/crm/v4/objects/deals/{deal}/associations/default/companies/{co}", want=200)
        a.req("PUT", f"/crm/v4/objects/deals/{deal}/associations/contacts/{ct}",
              [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}], want=201)
        a.req("GET", f"/crm/v4/objects/deals/{deal}/associations/companies", want=200)
        a.req("GET", f"/crm/v4/objects/deals/{deal}/associations/companies", want=200, query={"limit": "1"})
        a.req("POST", "/crm/v4/associations/line_items/deals/batch/create",
              {"inputs": [{"from": {"id": li}, "to": {"id": deal},
                           "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 20}]}]},
              want=201)
        a.req("POST", "/crm/v4/associations/contacts/companies/batch/associate/default",
              {"inputs": [{"from": {"id": ct}, "to": {"id": co}}]}, want=200)
        a.req("POST", "/crm/v4/associations/deals/line_items/batch/read", {"inputs": [{"id": deal}]}, want=200)
        a.req("POST", "/crm/v4/associations/deals/companies/batch/read",
              {"inputs": [{"id": deal}, {"id": "999999999"}]}, want=207)
        a.req("POST", "/crm/v4/associations/deals/companies/batch/archive",
              {"inputs": [{"from": {"id": deal}, "to": [{"id": co}, {"id": co2}]}]}, want=204)
        a.req("DELETE", f"/crm/v4/objects/deals/{deal}/associations/contacts/{ct}", want=204)
        a.req("PUT", f"/crm/v4/objects/deals/999999999/associations/default/companies/{co}", want=404)

        # OAuth: authorize (not in the specs: straight to the sandbox), then the token endpoints
        conn = http.client.HTTPConnection("127.0.0.1", sbx_port, timeout=10)
        conn.request("GET", "/hubspot/oauth/authorize?" + urllib.parse.urlencode(
            {"client_id": "cid", "redirect_uri": "http://localhost/cb", "scope": "oauth", "state": "s1"}))
        r = conn.getresponse()
        r.read()
        loc = r.getheader("Location") or ""
        conn.close()
        code = urllib.parse.parse_qs(urllib.parse.urlparse(loc).query).get("code", [""])[0]
        if r.status != 302 or not code:
            failures.append(f"authorize: status {r.status}, Location {loc!r}")
        o1 = cl["oauth1"]
        _, tok, _ = o1.req("POST", "/oauth/v1/token", {
            "grant_type": "authorization_code", "client_id": "cid", "client_secret": "secret",
            "redirect_uri": "http://localhost/cb", "code": code}, want=200, token=None, form=True)
        tok = tok or {}
        o1.req("GET", f"/oauth/v1/access-tokens/{tok.get('access_token', 'x')}", want=200, token=None)
        o1.req("POST", "/oauth/v1/token", {"grant_type": "authorization_code", "client_id": "cid",
                                           "client_secret": "secret", "redirect_uri": "http://localhost/cb",
                                           "code": "bogus"}, want=400, token=None, form=True)
        cl["oauth3"].req("POST", "/oauth/v3/token", {
            "grant_type": "refresh_token", "client_id": "cid", "client_secret": "secret",
            "refresh_token": tok.get("refresh_token", "x")}, want=200, token=None, form=True)
        cl["companies"].req("GET", "/crm/v3/objects/companies", want=200, token=tok.get("access_token", "x"),
                            query={"limit": "1"})
    finally:
        for pr in procs:
            pr.kill()
        sbx.kill()
        for pr in procs:
            pr.wait()
        sbx.wait()

    print(f"{checked} requests checked through Prism in {time.time() - started:.1f} s")
    if failures:
        print(f"FAIL: {len(failures)} problem(s):")
        for f in failures:
            print("  " + f)
        return 1
    print("OK: every HubSpot request and response conforms to the specs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
