#!/usr/bin/env python3
"""tests/conformance/test_zoho_conformance.py - the sandbox's Zoho Books API against Zoho's specs.

Design: starts BUILD/bin/hoopsync-sandbox (--port 0 --seed 7 --token T --time-scale 60), then one
Prism validating proxy (`prism proxy --errors`) per Zoho spec file (shared/specs/zoho-books/*.yml:
organizations, currency, taxes, contacts, contact-persons, items, invoices, customer-payments,
credit-notes), each pointing at http://127.0.0.1:PORT/zohobooks/books/v3. invoices.yml types
invoice `total` and `balance` as strings, a known defect of the spec (shared/specs/README.md, PRISM.md
section 5): the test loads it with PyYAML and hands Prism a copy, made in a temporary directory at
run time, in which those two properties are numbers. A scripted session (reads with paging and
last_modified_time, creates, updates, upserts through X-Unique-Identifier-Key/-Value and X-Upsert,
contact persons created, updated, read, made primary and deleted one by one,
payments and credit notes applied to invoices, status changes) goes through the proxies with
`Authorization: Bearer` (Prism checks the oauth2 scheme as Bearer; the sandbox takes
`Zoho-oauthtoken` too); the test fails when Prism answers 422/500 with validation errors or sets
`sl-violations`, or when the sandbox answers another status than Zoho would. What the specs do not
describe is checked directly against the sandbox: the required organization_id (400, code 6042),
the 401 (code 57), the per-minute 429 (code 45, no Retry-After), the OAuth token answer with
api_domain, and the workflow webhooks (one POST per change, the shared secret in a header). Only
the stdlib and PyYAML are used. Exit 77 (skipped) when the specs or the sandbox binary are missing,
or when Prism is missing outside CI (in CI a missing Prism is a failure).
Prism: SOURCE/build/tools/prism/node_modules/.bin/prism (scripts/deps.sh), or $HS_PRISM.
"""
import argparse
import http.client
import http.server
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prism_proxies  # noqa: E402

TOKEN = "T"
SPECS = ["organizations", "currency", "taxes", "contacts", "contact-persons", "items", "invoices",
         "customer-payments", "credit-notes"]
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
    """Requests through one spec's Prism proxy, organization_id added to every query."""

    def __init__(self, name, port, org):
        self.name = name
        self.port = port
        self.org = org

    def req(self, method, path, body=None, want=None, query=None, headers=None, org=True):
        global checked
        q = dict(query or {})
        if org:
            q["organization_id"] = self.org
        if q:
            path += "?" + urllib.parse.urlencode(q, doseq=True)
        h = {"Accept": "application/json", "Authorization": f"Bearer {TOKEN}"}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        for _ in range(20):
            status, doc, hdrs, raw = send(self.port, method, path, body, h)
            if status != 429 or want == 429:
                break
            time.sleep(1.1)  # the sandbox's own per-minute limit (a minute is a second here)
        checked += 1
        what = f"[{self.name}] {method} {path}"
        if "sl-violations" in hdrs:
            viol = [v for v in json.loads(hdrs["sl-violations"]) if not (
                # Zoho's specs declare no error answers: an expected refusal is no violation
                want is not None and want >= 400 and status == want and v.get("severity") == "Warning"
                and "Unable to match the returned status code" in v.get("message", ""))]
            if viol:
                failures.append(f"{what}: sl-violations: {json.dumps(viol)}")
        if status in (422, 500) and isinstance(doc, dict) and (
            "validation" in doc or str(doc.get("type", "")).startswith("https://stoplight.io")
        ):
            failures.append(f"{what}: Prism {status}: {json.dumps(doc.get('validation', doc))[:2000]}")
        elif want is not None and status != want:
            failures.append(f"{what}: status {status}, expected {want}: {raw[:500]!r}")
        elif isinstance(doc, dict) and status < 300 and doc.get("code") != 0:
            failures.append(f"{what}: code {doc.get('code')} in a {status} answer")
        return status, doc or {}, hdrs


def expect(cond, what):
    if not cond:
        failures.append(what)


class Hooks:
    """Loopback webhook receiver: checks the shared-secret header (200 / 401), keeps the bodies."""

    def __init__(self, secret):
        self.secret = secret
        self.got = []
        self.bad = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                ok = self.headers.get("X-Zoho-Webhook-Token", "") == outer.secret
                if ok:
                    outer.got.append((self.headers.get("X-Zoho-Event", ""), json.loads(raw)))
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


def _invoice_numbers(schemas):
    for name in ("total", "balance"):  # typed string; Zoho sends numbers (README.md)
        schemas[name] = {"type": "number"}


def _invoice_page_context(schemas):
    # typed as arrays (of strings, and inline in the list answer); it is an object
    schemas["page_context"] = {"type": "object"}
    schemas["list-invoices-response"]["properties"]["page_context"] = {"type": "object"}


def _creditnote_list(schemas):
    p = schemas["list-all-credit-notes-response"]["properties"]
    p["creditnotes"] = {"type": "array", "items": p["creditnotes"]}  # typed one object


def _creditnote_tax_amount(schemas):
    schemas["tax_amount"] = {"type": "number"}  # money typed string ('2.50'), as invoices' total


def _tax_get(schemas):
    # the answer of GET /settings/taxes/{id} is typed as the list (an array)
    schemas["get-a-tax-response"]["properties"]["tax"] = {"$ref": "#/components/schemas/tax-response"}


# Defects of Zoho's spec files, patched in copies made at run time (never in shared/specs):
# file -> patches of components/schemas. Each was seen as a false violation on a realistic answer.
PATCHES = {
    "invoices": [_invoice_numbers, _invoice_page_context],
    "credit-notes": [_creditnote_list, _creditnote_tax_amount],
    "taxes": [_tax_get],
}


def patched(name, src, tmpdir):
    """A copy of the spec file `name` with the PATCHES applied (JSON, in tmpdir)."""
    import yaml
    with open(src, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    schemas = doc.get("components", {}).get("schemas", {})
    for fix in PATCHES[name]:
        try:
            fix(schemas)
        except (KeyError, TypeError) as e:
            failures.append(f"{name}.yml: the spec changed, patch {fix.__name__} does not apply: {e}")
    out = os.path.join(tmpdir, f"{name}.patched.json")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, default=str)
    return out


def session(c, org, org2):
    """The scripted session through the proxies (c: spec name -> Client)."""
    _, doc, _ = c["organizations"].req("GET", "/organizations", want=200, org=False)
    ids = [o.get("organization_id") for o in doc.get("organizations", [])]
    expect(ids == [org, org2], f"organizations: {ids}")
    c["organizations"].req("GET", f"/organizations/{org}", want=200, org=False)

    _, doc, _ = c["currency"].req("GET", "/settings/currencies", want=200)
    cur = (doc.get("currencies") or [{}])[0]
    expect(cur.get("currency_code") == "USD" and cur.get("is_base_currency") is True, f"currencies: {cur}")
    c["currency"].req("GET", f"/settings/currencies/{cur.get('currency_id', 'x')}", want=200)
    _, doc, _ = c["taxes"].req("GET", "/settings/taxes", want=200)
    taxes = {t["tax_name"]: t["tax_id"] for t in doc.get("taxes", [])}
    expect("VAT 20%" in taxes and "Sales Tax" in taxes, f"taxes: {taxes}")
    c["taxes"].req("GET", f"/settings/taxes/{taxes.get('VAT 20%', 'x')}", want=200)

    # contacts: paging, a create with persons, an update, upserts
    ct = c["contacts"]
    _, doc, _ = ct.req("GET", "/contacts", want=200, query={"page": 1, "per_page": 5})
    pc = doc.get("page_context", {})
    expect(len(doc.get("contacts", [])) == 5 and pc.get("has_more_page") is True and pc.get("per_page") == 5,
           f"contacts page: {pc}")
    ct.req("GET", "/contacts", want=200, query={"sort_column": "last_modified_time", "sort_order": "D"})
    ct.req("GET", "/contacts", want=400, query={"per_page": 201})
    new = {"contact_name": "Conformance Ltd", "company_name": "Conformance Ltd", "contact_type": "customer",
           "currency_id": cur.get("currency_id"),
           "billing_address": {"address": "1 Rue", "city": "Lyon", "zip": "69001", "country": "FR"},
           "contact_persons": [{"first_name": "Ada", "last_name": "L", "email": "ada@conformance.test",
                                "is_primary_contact": True}],
           "custom_fields": [{"api_name": "cf_hoopsync_id", "value": "conf-1"}]}
    _, doc, _ = ct.req("POST", "/contacts", new, want=201)
    contact = doc.get("contact", {})
    cid = contact.get("contact_id", "x")
    expect(contact.get("email") == "ada@conformance.test", f"primary person's email: {contact}")
    ct.req("GET", f"/contacts/{cid}", want=200)
    ct.req("PUT", f"/contacts/{cid}", {"contact_name": "Conformance Ltd.", "contact_type": "customer",
                                       "website": "conformance.test"}, want=200)
    _, doc, _ = ct.req("POST", "/contacts", {"contact_name": "conformance ltd."}, want=400)
    expect(doc.get("code") == 3062, f"duplicate name: {doc}")
    _, doc, _ = ct.req("PUT", "/contacts", {"contact_name": "Conformance Ltd.", "contact_type": "customer"},
                       want=200,
                       headers={"X-Unique-Identifier-Key": "cf_hoopsync_id",
                                "X-Unique-Identifier-Value": "conf-1"})
    expect(doc.get("contact", {}).get("contact_id") == cid, "upsert by conf-1 updates the same contact")
    ct.req("PUT", "/contacts", {"contact_name": "Nobody", "contact_type": "customer"}, want=404,
           headers={"X-Unique-Identifier-Key": "cf_hoopsync_id", "X-Unique-Identifier-Value": "conf-2"})
    c["contact-persons"].req("GET", f"/contacts/{cid}/contactpersons", want=200)

    # contact persons one by one (what the connector updates its own person with): the other
    # persons of the contact stay
    cp = c["contact-persons"]
    _, doc, _ = cp.req("POST", "/contacts/contactpersons",
                       {"contact_id": cid, "first_name": "Betty", "last_name": "Books",
                        "email": "betty@conformance.test", "phone": "+33 4 00 00 00 01"}, want=201)
    made = (doc.get("contact_person") or [{}])[0]
    pid = made.get("contact_person_id", "x")
    expect(made.get("first_name") == "Betty" and made.get("is_primary_contact") is False,
           f"new person: {made}")
    _, doc, _ = cp.req("PUT", f"/contacts/contactpersons/{pid}",
                       {"contact_id": cid, "first_name": "Bettina", "email": "bettina@conformance.test"},
                       want=200)
    upd = (doc.get("contact_person") or [{}])[0]
    expect(upd.get("first_name") == "Bettina" and upd.get("last_name") == "Books",
           f"updated person: {upd}")
    _, doc, _ = cp.req("GET", f"/contacts/{cid}/contactpersons/{pid}", want=200)
    expect(doc.get("contact_person", {}).get("email") == "bettina@conformance.test", f"person: {doc}")
    _, doc, _ = ct.req("GET", f"/contacts/{cid}", want=200)
    persons = doc.get("contact", {}).get("contact_persons", [])
    expect(len(persons) == 2 and doc.get("contact", {}).get("email") == "ada@conformance.test",
           f"both persons, Ada still primary: {persons}")
    cp.req("POST", f"/contacts/contactpersons/{pid}/primary", want=200)
    cp.req("POST", f"/contacts/contactpersons/{persons[0].get('contact_person_id', 'x') if persons else 'x'}"
           "/primary", want=200)
    cp.req("PUT", "/contacts/contactpersons/1", {"contact_id": cid, "first_name": "X"}, want=404)
    cp.req("DELETE", f"/contacts/contactpersons/{pid}", want=200)

    # items
    it = c["items"]
    _, doc, _ = it.req("GET", "/items", want=200, query={"page": 1, "per_page": 200})
    expect(len(doc.get("items", [])) > 0, "seeded items")
    _, doc, _ = it.req("POST", "/items", {"name": "Conformance item", "rate": 12.5, "description": "c",
                                          "tax_id": taxes.get("VAT 20%", "")}, want=201)
    iid = doc.get("item", {}).get("item_id", "x")
    it.req("GET", f"/items/{iid}", want=200)
    it.req("PUT", f"/items/{iid}", {"name": "Conformance item", "rate": 13}, want=200)

    # invoices: exclusive and inclusive, upsert, filter, status
    iv = c["invoices"]
    _, doc, _ = it.req("POST", "/items", {"name": "Hourly service", "rate": 19.99}, want=201)
    svc = doc.get("item", {}).get("item_id", "x")
    body = {"customer_id": cid, "date": "2026-11-20", "line_items": [
        {"item_id": iid, "quantity": 3},
        {"item_id": svc, "description": "hours", "quantity": 1.5, "tax_id": taxes.get("Sales Tax", "")}]}
    _, doc, _ = iv.req("POST", "/invoices", body, want=201)
    inv = doc.get("invoice", {})
    expect(inv.get("total") == 79.26 and inv.get("tax_total") == 10.27, f"invoice amounts: {inv.get('total')} "
           f"{inv.get('tax_total')}")
    inv_id = inv.get("invoice_id", "x")
    _, doc, _ = iv.req("POST", "/invoices", {"customer_id": cid, "is_inclusive_tax": True, "line_items": [
        {"item_id": svc, "name": "Gross", "rate": 120, "tax_id": taxes.get("VAT 20%", "")}]}, want=201)
    expect(doc.get("invoice", {}).get("tax_total") == 20, f"inclusive tax: {doc.get('invoice', {}).get('tax_total')}")
    _, doc, _ = iv.req("PUT", "/invoices", {"customer_id": cid, "line_items": [{"item_id": svc, "rate": 5}]},
                       want=200, headers={"X-Unique-Identifier-Key": "cf_hoopsync_id",
                                          "X-Unique-Identifier-Value": "conf-inv-1", "X-Upsert": "true"})
    up_id = doc.get("invoice", {}).get("invoice_id")
    _, doc, _ = iv.req("PUT", "/invoices", {"customer_id": cid, "line_items": [{"item_id": svc, "rate": 6}]},
                       want=200, headers={"X-Unique-Identifier-Key": "cf_hoopsync_id",
                                          "X-Unique-Identifier-Value": "conf-inv-1", "X-Upsert": "true"})
    expect(doc.get("invoice", {}).get("invoice_id") == up_id, "invoice upsert replays onto the same invoice")
    iv.req("GET", f"/invoices/{inv_id}", want=200)
    iv.req("PUT", f"/invoices/{inv_id}", dict(body, reference_number="PO-7"), want=200)
    _, doc, _ = iv.req("GET", "/invoices", want=200,
                       query={"last_modified_time": "2020-01-01T00:00:00-0000", "per_page": 10, "page": 1})
    expect(len(doc.get("invoices", [])) == 3, f"invoices since 2020: {len(doc.get('invoices', []))}")
    _, doc, _ = iv.req("GET", "/invoices", want=200, query={"last_modified_time": "2099-01-01T00:00:00-0000"})
    expect(doc.get("invoices") == [], "no invoice modified after 2099")
    iv.req("POST", f"/invoices/{inv_id}/status/sent", want=200)

    # payments applied to the first invoice
    py = c["customer-payments"]
    _, doc, _ = py.req("POST", "/customerpayments", {
        "customer_id": cid, "payment_mode": "banktransfer", "amount": 50, "date": "2026-11-23",
        "reference_number": "WIRE-1", "invoices": [{"invoice_id": inv_id, "amount_applied": 50}],
        "invoice_id": inv_id, "amount_applied": 50}, want=201)
    pid = doc.get("payment", {}).get("payment_id", "x")
    py.req("GET", f"/customerpayments/{pid}", want=200)
    py.req("GET", "/customerpayments", want=200, query={"customer_id": cid})
    _, doc, _ = iv.req("GET", f"/invoices/{inv_id}", want=200)
    expect(doc.get("invoice", {}).get("status") == "partially_paid" and doc["invoice"].get("balance") == 29.26,
           f"after the payment: {doc.get('invoice', {}).get('status')} {doc.get('invoice', {}).get('balance')}")
    py.req("POST", "/customerpayments", {"customer_id": cid, "payment_mode": "cash", "date": "2026-11-23",
                                         "amount": 100, "invoice_id": inv_id, "amount_applied": 100,
                                         "invoices": [{"invoice_id": inv_id, "amount_applied": 100}]}, want=400)

    # credit notes
    cn = c["credit-notes"]
    _, doc, _ = cn.req("POST", "/creditnotes", {"customer_id": cid, "date": "2026-11-23",
                                                "creditnote_number": "CN-CONF-1", "line_items": [
        {"item_id": svc, "name": "Refund", "rate": 10, "tax_id": taxes.get("VAT 20%", "")}]}, want=201)
    cnid = doc.get("creditnote", {}).get("creditnote_id", "x")
    cn.req("GET", f"/creditnotes/{cnid}", want=200)
    cn.req("POST", f"/creditnotes/{cnid}/invoices", {"invoice_id": inv_id, "amount_applied": 12,
                                                     "invoices": [{"invoice_id": inv_id, "amount_applied": 12}]},
           want=200)
    _, doc, _ = iv.req("GET", f"/invoices/{inv_id}", want=200)
    expect(doc.get("invoice", {}).get("credits_applied") == 12 and doc["invoice"].get("balance") == 17.26,
           f"after the credit: {doc.get('invoice', {}).get('credits_applied')} {doc.get('invoice', {}).get('balance')}")
    cn.req("GET", "/creditnotes", want=200, query={"last_modified_time": "2020-01-01T00:00:00-0000"})
    return cid


def direct_checks(port, org, cid):
    """What the specs do not describe, straight against the sandbox."""
    base = "/zohobooks/books/v3"
    auth = {"Authorization": f"Zoho-oauthtoken {TOKEN}"}
    st, doc, _, _ = send(port, "GET", f"{base}/contacts", headers=auth)
    expect(st == 400 and (doc or {}).get("code") == 6042, f"no organization_id: {st} {doc}")
    st, doc, _, _ = send(port, "GET", f"{base}/contacts?organization_id={org}",
                         headers={"Authorization": "Zoho-oauthtoken nope"})
    expect(st == 401 and (doc or {}).get("code") == 57, f"bad token: {st} {doc}")
    # OAuth with the data center's accounts server and api_domain
    q = urllib.parse.urlencode({"response_type": "code", "client_id": "app", "scope": "ZohoBooks.fullaccess.all",
                                "redirect_uri": "http://localhost/cb", "state": "s", "access_type": "offline"})
    st, _, h, _ = send(port, "GET", f"/zohobooks/accounts/oauth/v2/auth?{q}")
    qs = urllib.parse.parse_qs(urllib.parse.urlparse(h.get("location", "")).query)
    expect(st == 302 and qs.get("code") and qs.get("location") == ["us"] and qs.get("accounts-server"),
           f"authorize: {st} {h.get('location')}")
    form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": (qs.get("code") or [""])[0],
                                   "client_id": "app", "client_secret": "s",
                                   "redirect_uri": "http://localhost/cb"})
    st, tok, _, _ = send(port, "POST", f"/zohobooks/accounts/oauth/v2/token?{form}")
    expect(st == 200 and tok and tok.get("expires_in") == 3600 and
           str(tok.get("api_domain", "")).endswith("/zohobooks"), f"token: {st} {tok}")
    access = (tok or {}).get("access_token", "x")
    st, _, _, _ = send(port, "GET", f"{base}/contacts?organization_id={org}",
                       headers={"Authorization": f"Zoho-oauthtoken {access}"})
    expect(st == 200, f"OAuth access token: {st}")
    # webhooks: one POST per change with the secret header
    hooks = Hooks("wh-secret")
    try:
        st, _, _, _ = send(port, "POST", "/_sandbox/webhooks",
                           {"provider": "zohobooks", "url": f"http://127.0.0.1:{hooks.port}/hook",
                            "secret": "wh-secret"})
        expect(st == 201, f"webhook subscription: {st}")
        st, _, _, _ = send(port, "PUT", f"{base}/contacts/{cid}?organization_id={org}",
                           {"contact_name": "Hooked Conformance"}, headers=auth)
        deadline = time.time() + 10
        while time.time() < deadline and not hooks.got:
            time.sleep(0.1)
        expect(hooks.bad == 0 and hooks.got and hooks.got[0][0] == "contact.updated" and
               hooks.got[0][1].get("contact", {}).get("contact_id") == cid, f"webhook: {hooks.got[:1]}")
    finally:
        hooks.close()
    # the per-minute limit: 429 with code 45 and no Retry-After (minutes last a second here, so
    # the limit is lowered to 5 first: a slow build may not make 100 calls in a second)
    st, lim, _, _ = send(port, "POST", "/zohobooks/_sandbox/limits", {"per_minute": 5})
    expect(st == 200 and (lim or {}).get("per_minute") == 5, f"limits: {st} {lim}")
    got = None
    for _ in range(50):
        st, doc, h, _ = send(port, "GET", f"{base}/settings/currencies?organization_id={org}", headers=auth)
        if st == 429:
            got = (doc, h)
            break
    expect(got is not None and got[0].get("code") == 45 and "retry-after" not in got[1],
           f"429: {got}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--specs", required=True)
    a = ap.parse_args()
    spec_dir = os.path.join(a.specs, "zoho-books")
    paths = {n: os.path.join(spec_dir, f"{n}.yml") for n in SPECS}
    if not all(os.path.isfile(p) for p in paths.values()):
        skip(f"Zoho Books specs not found under {spec_dir} (shared/specs is absent in a user's own clone)")
    try:
        import yaml  # noqa: F401
    except ImportError:
        missing_tool("PyYAML is not installed (python3-yaml)")
    prism = os.environ.get("HS_PRISM") or os.path.join(a.source, "build/tools/prism/node_modules/.bin/prism")
    if not os.access(prism, os.X_OK):
        missing_tool(f"Prism not found at {prism} (scripts/deps.sh installs it with npm)")
    binary = os.path.join(a.build, "bin", "hoopsync-sandbox")
    if not os.access(binary, os.X_OK):
        skip(f"{binary} not built")

    started = time.time()
    tmp = tempfile.TemporaryDirectory(prefix="zoho-conformance-")
    for name in PATCHES:
        paths[name] = patched(name, paths[name], tmp.name)
    sbx, sbx_port = start_sandbox(binary)
    procs = []
    try:
        st, ten, _, _ = send(sbx_port, "GET", "/_sandbox/tenants")
        ids = ((ten or {}).get("zohobooks") or {}).get("organizationIds") or []
        if st != 200 or len(ids) != 2:
            print(f"FAIL: /_sandbox/tenants: {st} {ten}")
            return 1
        up = f"http://127.0.0.1:{sbx_port}/zohobooks/books/v3"
        try:
            ports = prism_proxies.start(prism, {n: (paths[n], up) for n in SPECS}, 180, procs)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        print(f"{len(SPECS)} Prism proxies ready after {time.time() - started:.1f} s")
        cid = session({n: Client(n, ports[n], ids[0]) for n in SPECS}, ids[0], ids[1])
        direct_checks(sbx_port, ids[0], cid)
    finally:
        for p in procs:
            p.kill()
        sbx.kill()
        for p in procs:
            p.wait()
        sbx.wait()
        tmp.cleanup()

    print(f"{checked} requests checked through Prism in {time.time() - started:.1f} s")
    if failures:
        print(f"FAIL: {len(failures)} problem(s):")
        for f in failures:
            print("  " + f)
        return 1
    print("OK: every Zoho Books request and response conforms to the specs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
