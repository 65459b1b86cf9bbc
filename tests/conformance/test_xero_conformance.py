#!/usr/bin/env python3
"""tests/conformance/test_xero_conformance.py - the sandbox's Xero API against Xero's specs.

Design: starts BUILD/bin/hoopsync-sandbox (--port 0 --seed 7 --token T --time-scale 60), then two
Prism validating proxies (`prism proxy --errors`): one for the accounting API
(shared/specs/xero/derived/xero_accounting.acyclic.json, the copy of xero_accounting.yaml whose
recursive refs are cut so that Prism really validates Invoices, Payments and CreditNotes; see
shared/specs/PRISM.md section 4) pointing at http://127.0.0.1:PORT/xero/api.xro/2.0, and one for
the identity API (xero-identity.yaml, /Connections) pointing at http://127.0.0.1:PORT/xero. A
scripted session (reads, PUT and POST arrays with summarizeErrors true and false, updates,
payments, credit notes, filters, Idempotency-Key, OAuth tokens, connections) goes through them;
the test fails when Prism answers 422/500 with validation errors or sets `sl-violations`, or when
the sandbox answers another status than Xero would. What Prism cannot check is checked directly
against the sandbox: the Xero-tenant-id 403, the 401, the rate-limit headers and a 429, and the
webhook deliveries, whose bodies are validated against xero-webhooks.yaml's WebhookEvent schema
(a small JSON-schema subset below: Prism loads no operations from that OAS 3.1 webhooks-only
file) and whose x-xero-signature is verified, plus the intent-to-receive check. Only the stdlib
and PyYAML are used. Exit 77 (skipped) when the specs or the sandbox binary are missing, or when
Prism is missing outside CI (in CI a missing Prism is a failure).
Prism: SOURCE/build/tools/prism/node_modules/.bin/prism (scripts/deps.sh), or $HS_PRISM.
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prism_proxies  # noqa: E402

TOKEN = "T"
failures = []
checked = 0


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def missing_tool(why):
    if os.environ.get("CI"):
        print(f"FAIL: {why}")
        sys.exit(1)
    skip(why)


def send(port, method, path, body=None, headers=None, raw_body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else None)
    conn.request(method, path, body=data, headers=headers or {})
    r = conn.getresponse()
    raw = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    conn.close()
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = None
    return r.status, doc, hdrs, raw


class Client:
    def __init__(self, name, port, tenant=None):
        self.name = name
        self.port = port
        self.tenant = tenant

    def req(self, method, path, body=None, want=None, token=TOKEN, query=None, headers=None):
        """One request through the proxy; records failures; returns (status, json, headers)."""
        global checked
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        h = {"Accept": "application/json"}
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if self.tenant is not None:
            h["Xero-tenant-id"] = self.tenant
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        for attempt in range(20):
            status, doc, hdrs, raw = send(self.port, method, path, body, h)
            if status != 429 or want == 429:
                break
            time.sleep(float(hdrs.get("retry-after", "1")))  # the sandbox's own limits
        checked += 1
        what = f"[{self.name}] {method} {path}"
        if "sl-violations" in hdrs:
            failures.append(f"{what}: sl-violations: {hdrs['sl-violations']}")
        if status in (422, 500) and isinstance(doc, dict) and (
            "validation" in doc or str(doc.get("type", "")).startswith("https://stoplight.io")
        ):
            failures.append(f"{what}: Prism {status}: {json.dumps(doc.get('validation', doc))[:2000]}")
        elif want is not None and status != want:
            failures.append(f"{what}: status {status}, expected {want}: {raw[:500]!r}")
        return status, doc, hdrs


def expect(cond, what):
    if not cond:
        failures.append(what)


# ---- a small JSON-schema subset for the webhook payloads ----

UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Xero writes eventDateUtc without a zone ("2017-06-21T01:15:39.902"); the instant is UTC
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")


def validate(value, schema, where="body"):
    errs = []
    t = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    if t in types and (not isinstance(value, types[t]) or (t == "integer" and isinstance(value, bool))):
        return [f"{where}: expected {t}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        errs.append(f"{where}: expected {schema['const']!r}")
    if "oneOf" in schema:
        if sum(1 for s in schema["oneOf"] if not validate(value, s, where)) != 1:
            errs.append(f"{where}: {value!r} matches none of oneOf")
    if t == "integer":
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{where}: {value} > maximum {schema['maximum']}")
    if t == "string":
        fmt = schema.get("format")
        if fmt == "uuid" and not UUID.match(value):
            errs.append(f"{where}: {value!r} is no uuid")
        if fmt == "date-time" and not DATETIME.match(value):
            errs.append(f"{where}: {value!r} is no date-time")
        if fmt == "uri" and not re.match(r"^https?://", value):
            errs.append(f"{where}: {value!r} is no uri")
    if t == "object":
        for k in schema.get("required", []):
            if k not in value:
                errs.append(f"{where}: missing {k}")
        for k, s in schema.get("properties", {}).items():
            if k in value:
                errs += validate(value[k], s, f"{where}.{k}")
    if t == "array" and "items" in schema:
        for i, v in enumerate(value):
            errs += validate(v, schema["items"], f"{where}[{i}]")
    return errs


class Hooks:
    """Loopback webhook receiver: verifies x-xero-signature (200 / 401) and keeps the bodies."""

    def __init__(self, key):
        self.key = key.encode()
        self.bodies = []
        self.bad = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                want = base64.b64encode(hmac.new(outer.key, raw, hashlib.sha256).digest()).decode()
                ok = hmac.compare_digest(want, self.headers.get("x-xero-signature", ""))
                if ok:
                    outer.bodies.append(raw)
                else:
                    outer.bad += 1
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def start_sandbox(binary):
    proc = subprocess.Popen(
        # rate limits stay on (their headers are checked too), with minutes of one second
        [binary, "--port", "0", "--seed", "7", "--token", TOKEN, "--time-scale", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        m = re.search(r"127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    print("FAIL: hoopsync-sandbox did not print its port")
    sys.exit(1)


def session(acc, ident, sbx_port, tenant, tenant2):
    """The scripted session through the proxies."""
    # identity: connections with the static token and with an OAuth token
    _, conns, _ = ident.req("GET", "/Connections", want=200)
    expect(isinstance(conns, list) and len(conns) == 2 and conns[0]["tenantId"] == tenant,
           f"connections: {conns}")
    q = urllib.parse.urlencode({"response_type": "code", "client_id": "app", "scope": "offline_access",
                                "redirect_uri": "http://localhost/cb", "state": "s"})
    st, _, h, _ = send(sbx_port, "GET", f"/xero/identity/connect/authorize?{q}")
    code = urllib.parse.parse_qs(urllib.parse.urlparse(h.get("location", "")).query).get("code", [""])[0]
    expect(st == 302 and code, f"authorize: {st} {h.get('location')}")
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code, "client_id": "app",
                                   "client_secret": "s", "redirect_uri": "http://localhost/cb"}).encode()
    st, tok, _, _ = send(sbx_port, "POST", "/xero/identity/connect/token", raw_body=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect(st == 200 and tok and tok.get("expires_in") == 1800, f"token: {st} {tok}")
    access = (tok or {}).get("access_token", "x")
    ident.req("GET", "/Connections", want=200, token=access)
    acc.req("GET", "/Organisation", want=200, token=access)

    # reference lists
    acc.req("GET", "/Organisation", want=200)
    acc.req("GET", "/Currencies", want=200)
    acc.req("GET", "/TaxRates", want=200, query={"where": 'TaxType=="OUTPUT"'})
    acc.req("GET", "/Accounts", want=200, query={"order": "Code DESC"})
    _, items, _ = acc.req("GET", "/Items", want=200)
    item_id = ((items or {}).get("Items") or [{}])[0].get("ItemID", "x")
    acc.req("GET", f"/Items/{item_id}", want=200)

    # contacts
    _, doc, _ = acc.req("GET", "/Contacts", want=200, query={"page": "1"})
    first = ((doc or {}).get("Contacts") or [{}])[0].get("ContactID", "x")
    acc.req("GET", f"/Contacts/{first}", want=200)
    acc.req("GET", "/Contacts", want=200, query={"IDs": first, "includeArchived": "true"})
    acc.req("GET", "/Contacts", want=200, query={"where": 'Name.StartsWith("A") AND ContactStatus=="ACTIVE"',
                                                 "order": "Name DESC", "page": "1", "pageSize": "5"})
    acc.req("GET", "/Contacts", want=200, headers={"If-Modified-Since": "2020-01-01T00:00:00Z"})
    new = {"Contacts": [{"Name": "Conformance Ltd", "EmailAddress": "ap@conformance.test",
                         "ContactPersons": [{"FirstName": "Ada", "LastName": "L", "EmailAddress":
                                             "ada@conformance.test", "IncludeInEmails": True}],
                         "Phones": [{"PhoneType": "DEFAULT", "PhoneNumber": "555-0100"}],
                         "Addresses": [{"AddressType": "POBOX", "City": "Lyon", "Country": "FR"}]}]}
    _, doc, _ = acc.req("PUT", "/Contacts", new, want=200, query={"summarizeErrors": "false"},
                        headers={"Idempotency-Key": "conf-1"})
    cid = ((doc or {}).get("Contacts") or [{}])[0].get("ContactID", "x")
    _, again, _ = acc.req("PUT", "/Contacts", new, want=200, query={"summarizeErrors": "false"},
                          headers={"Idempotency-Key": "conf-1"})
    expect(again == doc, "Idempotency-Key: the replay differs from the first answer")
    _, doc, _ = acc.req("PUT", "/Contacts", {"Contacts": [{"Name": "Fresh Conformance"},
                                                          {"Name": "Conformance Ltd"}]},
                        want=200, query={"summarizeErrors": "false"})
    statuses = [c.get("StatusAttributeString") for c in (doc or {}).get("Contacts", [])]
    expect(statuses == ["OK", "ERROR"], f"mixed batch: {statuses}")
    _, doc, _ = acc.req("PUT", "/Contacts", {"Contacts": [{"Name": "Conformance Ltd"}]}, want=400)
    expect((doc or {}).get("Type") == "ValidationException", f"summarized error: {doc}")
    acc.req("POST", "/Contacts", {"Contacts": [{"ContactID": cid, "Website": "x",
                                                "EmailAddress": "billing@conformance.test"}]},
            want=200, query={"summarizeErrors": "false"})
    acc.req("POST", f"/Contacts/{cid}", {"Contacts": [{"ContactID": cid, "FirstName": "Ada"}]}, want=200)

    # items
    _, doc, _ = acc.req("PUT", "/Items", {"Items": [{"Code": "CONF-1", "Name": "Conformance item",
                                                     "SalesDetails": {"UnitPrice": 12.5, "AccountCode": "200",
                                                                      "TaxType": "OUTPUT"}}]},
                        want=200, query={"summarizeErrors": "false"})
    iid = ((doc or {}).get("Items") or [{}])[0].get("ItemID", "x")
    acc.req("POST", "/Items", {"Items": [{"ItemID": iid, "Code": "CONF-1", "Description": "Now described"}]},
            want=200, query={"summarizeErrors": "false"})
    acc.req("POST", f"/Items/{iid}", {"Items": [{"Code": "CONF-1", "Name": "Renamed"}]}, want=200)

    # invoices in the three line amount modes
    inv_ids = []
    for lat, tax in (("Exclusive", "OUTPUT"), ("Inclusive", "TAX001"), ("NoTax", "NONE")):
        body = {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": cid}, "Date": "2026-11-20",
                              "DueDate": "2026-12-20", "Status": "AUTHORISED", "LineAmountTypes": lat,
                              "Reference": "conformance", "CurrencyCode": "USD",
                              "LineItems": [{"Description": "Widget", "Quantity": 3, "UnitAmount": 33.33,
                                             "AccountCode": "200", "TaxType": tax},
                                            {"ItemCode": "CONF-1", "Quantity": 1, "DiscountRate": 10,
                                             "TaxType": tax}]}]}
        _, doc, _ = acc.req("PUT", "/Invoices", body, want=200, query={"summarizeErrors": "false"})
        inv_ids.append(((doc or {}).get("Invoices") or [{}])[0].get("InvoiceID", "x"))
    _, doc, _ = acc.req("PUT", "/Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": cid},
                                                           "LineItems": [{"Description": "x", "Quantity": 1,
                                                                          "UnitAmount": 1, "LineAmount": 2,
                                                                          "AccountCode": "200"}]}]},
                        want=200, query={"summarizeErrors": "false"})
    expect(((doc or {}).get("Invoices") or [{}])[0].get("StatusAttributeString") == "ERROR",
           "an invoice with a wrong LineAmount was accepted")
    acc.req("PUT", "/Invoices", {"Invoices": [{"Type": "ACCREC", "LineItems": []}]}, want=400)
    _, draft, _ = acc.req("PUT", "/Invoices", {"Invoices": [{"Type": "ACCREC", "Contact": {"Name": "By Name Co"},
                                                             "LineItems": [{"Description": "d", "Quantity": 2,
                                                                            "UnitAmount": 5,
                                                                            "AccountCode": "200"}]}]},
                          want=200, query={"summarizeErrors": "false"})
    draft_id = ((draft or {}).get("Invoices") or [{}])[0].get("InvoiceID", "x")
    acc.req("POST", f"/Invoices/{draft_id}", {"Invoices": [{"Status": "AUTHORISED"}]}, want=200)
    acc.req("GET", "/Invoices", want=200, query={"page": "1", "Statuses": "AUTHORISED",
                                                 "ContactIDs": cid, "order": "Total DESC"})
    acc.req("GET", "/Invoices", want=200, query={"IDs": ",".join(inv_ids), "where": "Total>0"})
    acc.req("GET", f"/Invoices/{inv_ids[0]}", want=200)

    # payments
    _, doc, _ = acc.req("PUT", "/Payments", {"Payments": [{"Invoice": {"InvoiceID": inv_ids[2]},
                                                           "Account": {"Code": "090"}, "Date": "2026-11-23",
                                                           "Amount": 10.00, "Reference": "part"}]},
                        want=200, query={"summarizeErrors": "false"})
    pid = ((doc or {}).get("Payments") or [{}])[0].get("PaymentID", "x")
    acc.req("PUT", "/Payments", {"Payments": [{"Invoice": {"InvoiceID": inv_ids[2]}, "Account": {"Code": "090"},
                                               "Amount": 100000}]}, want=400)
    acc.req("GET", "/Payments", want=200, query={"page": "1"})
    acc.req("GET", f"/Payments/{pid}", want=200)
    _, inv, _ = acc.req("GET", f"/Invoices/{inv_ids[2]}", want=200)
    due = ((inv or {}).get("Invoices") or [{}])[0].get("AmountDue", 0)
    acc.req("PUT", "/Payments", {"Payments": [{"Invoice": {"InvoiceID": inv_ids[2]}, "Account": {"Code": "090"},
                                               "Amount": due}]}, want=200, query={"summarizeErrors": "false"})
    _, inv, _ = acc.req("GET", f"/Invoices/{inv_ids[2]}", want=200)
    expect(((inv or {}).get("Invoices") or [{}])[0].get("Status") == "PAID", f"not PAID: {inv}")
    acc.req("POST", f"/Payments/{pid}", {"Status": "DELETED"}, want=200)

    # credit notes
    _, doc, _ = acc.req("PUT", "/CreditNotes", {"CreditNotes": [{"Type": "ACCRECCREDIT", "Contact": {"ContactID": cid},
                                                                 "Status": "AUTHORISED",
                                                                 "LineItems": [{"Description": "Refund", "Quantity": 1,
                                                                                "UnitAmount": 50,
                                                                                "AccountCode": "200",
                                                                                "TaxType": "TAX002"}]}]},
                        want=200, query={"summarizeErrors": "false"})
    cn = ((doc or {}).get("CreditNotes") or [{}])[0].get("CreditNoteID", "x")
    acc.req("GET", "/CreditNotes", want=200, query={"page": "1"})
    acc.req("GET", f"/CreditNotes/{cn}", want=200)

    # the other tenant is empty and separate
    other = Client("accounting/tenant2", acc.port, tenant2)
    _, doc, _ = other.req("GET", "/Contacts", want=200)
    expect((doc or {}).get("Contacts") == [], f"tenant 2 is not empty: {doc}")

    # disconnect the second tenant: /Connections lists one
    conn2 = [c for c in (conns if isinstance(conns, list) else []) if c.get("tenantId") == tenant2]
    if conn2:
        ident.req("DELETE", f"/Connections/{conn2[0]['id']}", want=204)
        _, doc, _ = ident.req("GET", "/Connections", want=200)
        expect(isinstance(doc, list) and len(doc) == 1, f"after disconnect: {doc}")


def direct_checks(sbx_port, tenant, specs):
    """What Prism cannot check: 401, 403, limits, webhooks."""
    base = "/xero/api.xro/2.0"
    st, doc, h, _ = send(sbx_port, "GET", f"{base}/Contacts", headers={"Xero-tenant-id": tenant})
    expect(st == 401 and (doc or {}).get("Title") == "Unauthorized" and "www-authenticate" in h,
           f"no token: {st} {doc}")
    st, doc, _, _ = send(sbx_port, "GET", f"{base}/Contacts", headers={"Authorization": f"Bearer {TOKEN}"})
    expect(st == 403 and (doc or {}).get("Detail") == "AuthorizationUnsuccessful", f"no tenant: {st} {doc}")
    hdr = {"Authorization": f"Bearer {TOKEN}", "Xero-tenant-id": tenant}
    # the minute limit (60 calls; minutes last one second here)
    seen_429 = None
    for _ in range(200):
        st, doc, h, _ = send(sbx_port, "GET", f"{base}/Currencies", headers=hdr)
        for k in ("x-minlimit-remaining", "x-daylimit-remaining", "x-appminlimit-remaining"):
            expect(k in h, f"{k} missing on a {st}")
        if st == 429:
            seen_429 = h
            break
    expect(seen_429 is not None and seen_429.get("x-rate-limit-problem") == "minute"
           and "retry-after" in seen_429, f"429: {seen_429}")
    time.sleep(1.1)

    # webhooks: intent to receive, then deliveries validated against WebhookEvent
    import yaml  # noqa: E402 (only needed here)
    schema = yaml.safe_load(open(os.path.join(specs, "xero", "xero-webhooks.yaml")))["components"]["schemas"][
        "WebhookEvent"]
    hooks = Hooks("conformance-key")
    try:
        url = f"http://127.0.0.1:{hooks.port}/hook"
        st, doc, _, _ = send(sbx_port, "POST", "/xero/_sandbox/intent", {"url": url, "key": "conformance-key"})
        expect(st == 200 and (doc or {}).get("status") == "OK", f"intent: {st} {doc}")
        st, _, _, _ = send(sbx_port, "POST", "/_sandbox/webhooks",
                           {"provider": "xero", "url": url, "secret": "conformance-key"})
        expect(st == 201, f"subscribe: {st}")
        hooks.bodies.clear()
        body = {"Contacts": [{"Name": "Webhook Conformance"}]}
        st, doc, _, _ = send(sbx_port, "PUT", f"{base}/Contacts?summarizeErrors=false", body,
                             dict(hdr, **{"Content-Type": "application/json"}))
        cid = ((doc or {}).get("Contacts") or [{}])[0].get("ContactID")
        inv = {"Invoices": [{"Type": "ACCREC", "Contact": {"ContactID": cid}, "LineItems": [
            {"Description": "x", "Quantity": 1, "UnitAmount": 1, "AccountCode": "200"}]}]}
        send(sbx_port, "PUT", f"{base}/Invoices?summarizeErrors=false", inv,
             dict(hdr, **{"Content-Type": "application/json"}))
        deadline = time.time() + 10
        while time.time() < deadline and sum(len(json.loads(b)["events"]) for b in hooks.bodies) < 2:
            time.sleep(0.1)
        events = []
        for raw in hooks.bodies:
            d = json.loads(raw)
            for e in validate(d, schema):
                failures.append(f"webhook body: {e}")
            events += d.get("events", [])
        cats = sorted(e.get("eventCategory") for e in events)
        expect(cats == ["CONTACT", "INVOICE"], f"webhook events: {events}")
    finally:
        hooks.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--specs", required=True)
    a = ap.parse_args()
    acc_spec = os.path.join(a.specs, "xero", "derived", "xero_accounting.acyclic.json")
    id_spec = os.path.join(a.specs, "xero", "xero-identity.yaml")
    if not (os.path.isfile(acc_spec) and os.path.isfile(id_spec)):
        skip(f"Xero specs not found under {a.specs}/xero (shared/specs is absent in a user's own clone)")
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
        st, ten, _, _ = send(sbx_port, "GET", "/_sandbox/tenants")
        ids = ((ten or {}).get("xero") or {}).get("tenantIds") or []
        if st != 200 or len(ids) != 2:
            print(f"FAIL: /_sandbox/tenants: {st} {ten}")
            return 1
        try:
            ports = prism_proxies.start(
                prism, {"accounting": (acc_spec, f"http://127.0.0.1:{sbx_port}/xero/api.xro/2.0"),
                        "identity": (id_spec, f"http://127.0.0.1:{sbx_port}/xero")}, 120, procs)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        print(f"Prism proxies ready after {time.time() - started:.1f} s")
        session(Client("accounting", ports["accounting"], ids[0]), Client("identity", ports["identity"]),
                sbx_port, ids[0], ids[1])
        direct_checks(sbx_port, ids[0], a.specs)
    finally:
        for p in procs:
            p.kill()
        sbx.kill()
        for p in procs:
            p.wait()
        sbx.wait()

    print(f"{checked} requests checked through Prism in {time.time() - started:.1f} s")
    if failures:
        print(f"FAIL: {len(failures)} problem(s):")
        for f in failures:
            print("  " + f)
        return 1
    print("OK: every Xero request and response conforms to the specs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
