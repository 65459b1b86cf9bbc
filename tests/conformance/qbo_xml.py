"""tests/conformance/qbo_xml.py - QuickBooks JSON to schema-ordered XML, for xmllint.

QuickBooks Online's JSON uses the element names of Intuit's XML Schemas (namespace
http://schema.intuit.com/finance/v3). This module reads the XSDs with xml.etree, learns for every
complex type its child elements in sequence order (following extension bases), its attributes and
whether it has simple content (ReferenceType: {"value": "1", "name": "x"} becomes
<ItemRef name="x">1</ItemRef>), and converts JSON objects into XML that xmllint can validate.
A JSON key the type does not define raises SchemaGap, so the caller can report it.
"""

import decimal
import xml.etree.ElementTree as ET

XS = "{http://www.w3.org/2001/XMLSchema}"
NS = "http://schema.intuit.com/finance/v3"


class SchemaGap(Exception):
    """A JSON key or shape that the schema does not allow."""


def _local(qname):
    if qname is None:
        return None
    return qname.split(":", 1)[1] if ":" in qname else qname


class Schema:
    def __init__(self, paths):
        self.types = {}     # name -> complexType element
        self.simple = set()  # simple type names
        self.globals = {}   # global element name -> type name
        for p in paths:
            root = ET.parse(p).getroot()
            for ct in root.findall(XS + "complexType"):
                self.types[ct.get("name")] = ct
            for st in root.findall(XS + "simpleType"):
                self.simple.add(st.get("name"))
            for el in root.findall(XS + "element"):
                if el.get("type"):
                    self.globals[el.get("name")] = _local(el.get("type"))
        self._cache = {}

    def info(self, tname):
        """(children: list of (name, type or None for inline/ref)), attrs: set, simple: bool)."""
        if tname in self._cache:
            return self._cache[tname]
        ct = self.types.get(tname)
        if ct is None:
            raise SchemaGap("unknown type %s" % tname)
        children, attrs, simple = [], set(), False
        sc = ct.find(XS + "simpleContent")
        if sc is not None:
            simple = True
            ext = sc.find(XS + "extension")
            if ext is not None and _local(ext.get("base")) in self.types:
                _, battrs, _ = self.info(_local(ext.get("base")))
                attrs |= battrs
        cc = ct.find(XS + "complexContent")
        body = ct
        if cc is not None:
            ext = cc.find(XS + "extension")
            if ext is not None:
                bch, battrs, bsimple = self.info(_local(ext.get("base")))
                children += bch
                attrs |= battrs
                simple = simple or bsimple
                body = ext
        for el in body.iter(XS + "element"):
            name = el.get("name") or _local(el.get("ref"))
            typ = _local(el.get("type"))
            if typ is None and el.get("ref"):
                typ = self.globals.get(_local(el.get("ref")))
            children.append((name, typ))
        for a in ct.iter(XS + "attribute"):
            attrs.add(a.get("name"))
        res = (children, attrs, simple)
        self._cache[tname] = res
        return res

    def is_complex(self, tname):
        return tname in self.types


def scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, decimal.Decimal)):
        return str(v)
    if isinstance(v, str):
        return v
    raise SchemaGap("unexpected JSON value %r" % (v,))


def element(schema, name, tname, value, where):
    """XML element `name` of schema type tname for JSON value."""
    el = ET.Element("{%s}%s" % (NS, name))
    if tname is None or not schema.is_complex(tname):
        if isinstance(value, (dict, list)):
            raise SchemaGap("%s: '%s' is a simple value in the schema" % (where, name))
        el.text = scalar(value)
        return el
    children, attrs, simple = schema.info(tname)
    if not isinstance(value, dict):
        if simple:
            el.text = scalar(value)
            return el
        raise SchemaGap("%s: '%s' must be an object" % (where, name))
    known = {c for c, _ in children}
    for k, v in value.items():
        if v is None:
            continue
        if k == "value" and simple:
            el.text = scalar(v)
        elif k in attrs and k not in known:
            el.set(k, scalar(v))
        elif k not in known:
            raise SchemaGap("%s: '%s' has no element or attribute '%s'" % (where, name, k))
    done = set()
    for cname, ctype in children:
        if cname in done or cname not in value or value[cname] is None:
            continue
        done.add(cname)
        v = value[cname]
        for item in (v if isinstance(v, list) else [v]):
            el.append(element(schema, cname, ctype, item, where + "." + cname))
    return el


def entity(schema, name, value, where):
    tname = schema.globals.get(name)
    if tname is None:
        raise SchemaGap("%s: no global element '%s'" % (where, name))
    return element(schema, name, tname, value, where)


ENTITY_KEYS = ("startPosition", "maxResults", "totalCount")


def query_response(schema, qr, where):
    el = ET.Element("{%s}QueryResponse" % NS)
    for k in ENTITY_KEYS:
        if k in qr:
            el.set(k, str(qr[k]))
    for k, v in qr.items():
        if k in ENTITY_KEYS:
            continue
        if k == "Fault":
            el.append(fault(v))
            continue
        for item in (v if isinstance(v, list) else [v]):
            el.append(entity(schema, k, item, where + "." + k))
    return el


def fault(f):
    el = ET.Element("{%s}Fault" % NS)
    if "type" in f:
        el.set("type", f["type"])
    for e in f.get("Error", []):
        x = ET.SubElement(el, "{%s}Error" % NS)
        x.set("code", str(e.get("code", "")))
        if e.get("element"):
            x.set("element", e["element"])
        for k in ("Message", "Detail", "DetailLink"):
            if e.get(k) is not None:
                ET.SubElement(x, "{%s}%s" % (NS, k)).text = str(e[k])
    return el


def response(schema, body, where):
    """IntuitResponse XML for a JSON answer of the API."""
    root = ET.Element("{%s}IntuitResponse" % NS)
    if "time" in body and isinstance(body["time"], str):
        root.set("time", body["time"])
    if "fault" in body and isinstance(body["fault"], dict):  # 401 shape, lower case
        f = body["fault"]
        body = {"Fault": {"type": f.get("type"), "Error": [
            {"Message": e.get("message"), "Detail": e.get("detail"), "code": e.get("code"),
             "element": e.get("element")} for e in f.get("error", [])]}}
    for k, v in body.items():
        if k == "time":
            continue
        if k == "Fault":
            root.append(fault(v))
        elif k == "QueryResponse":
            root.append(query_response(schema, v, where))
        elif k == "BatchItemResponse":
            for item in v:
                bi = ET.SubElement(root, "{%s}BatchItemResponse" % NS)
                if "bId" in item:
                    bi.set("bId", item["bId"])
                for ik, iv in item.items():
                    if ik == "bId":
                        continue
                    if ik == "Fault":
                        bi.append(fault(iv))
                    elif ik == "QueryResponse":
                        bi.append(query_response(schema, iv, where + ".batch"))
                    else:
                        bi.append(entity(schema, ik, iv, where + ".batch"))
        elif k == "CDCResponse":
            for cdc in v:
                c = ET.SubElement(root, "{%s}CDCResponse" % NS)
                for qr in cdc.get("QueryResponse", []):
                    c.append(query_response(schema, qr, where + ".cdc"))
        else:
            root.append(entity(schema, k, v, where))
    return root


def batch_request(schema, body, where):
    root = ET.Element("{%s}IntuitBatchRequest" % NS)
    for item in body["BatchItemRequest"]:
        bi = ET.SubElement(root, "{%s}BatchItemRequest" % NS)
        for a in ("bId", "operation", "optionsData"):
            if a in item:
                bi.set(a, item[a])
        for k, v in item.items():
            if k in ("bId", "operation", "optionsData"):
                continue
            if k == "Query":
                ET.SubElement(bi, "{%s}Query" % NS).text = v
            else:
                bi.append(entity(schema, k, v, where))
    return root


def to_bytes(el):
    ET.register_namespace("", NS)
    return ET.tostring(el, encoding="utf-8", xml_declaration=True)
