"""openapi_check: a small JSON Schema validator for the subset of OpenAPI 3.0
that Qdrant's openapi.json uses, plus a lookup of the response schema of a
concrete request.  Python standard library only.

    spec = load_spec()                      # /work/shared/qdrant/openapi.json
    schema = response_schema(spec, "GET", "/collections/c1/snapshots", 200)
    errors = validate(spec, schema, body)   # [] when body conforms

Supported keywords: $ref (JSON pointers into the spec, i.e.
#/components/schemas/...), type (integer excludes floats and booleans,
number excludes booleans), properties, required, additionalProperties
(bool or schema), items, anyOf, oneOf, allOf, enum, nullable, format (uint,
uint8/16/32/64, int32/int64, float, double, uuid, date-time,
partial-date-time), minimum, maximum, exclusiveMinimum/Maximum (3.0 bools),
minLength, maxLength, minItems, maxItems, uniqueItems.  Annotations
(description, example, default, deprecated, ...) are ignored.

One convention of schemars-generated specs is honoured: inside anyOf,
Option<T> is written as [{"$ref": T}, {"nullable": true}]; a schema whose
only constraint is "nullable": true is taken to mean "null", not "anything".
"""

import json
import os
import re

DEFAULT_SPEC = os.environ.get("QBK_OPENAPI",
                              "/work/shared/qdrant/openapi.json")

_INT_RANGES = {
    "uint": (0, 2**64 - 1),
    "uint8": (0, 2**8 - 1),
    "uint16": (0, 2**16 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
    "int8": (-2**7, 2**7 - 1),
    "int16": (-2**15, 2**15 - 1),
    "int32": (-2**31, 2**31 - 1),
    "int64": (-2**63, 2**63 - 1),
    "int": (-2**63, 2**63 - 1),
}
_UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}$")
_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?"
    r"([Zz]|[+-]\d{2}:\d{2})$")
_PARTIAL_DATE_TIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$")
# Keywords that constrain a value; a schema holding none of them (other than
# "nullable") is either "anything" or, with nullable, "null".
_CONSTRAINTS = ("$ref", "type", "properties", "required",
                "additionalProperties", "items", "anyOf", "oneOf", "allOf",
                "enum", "format", "minimum", "maximum", "minLength",
                "maxLength", "minItems", "maxItems", "uniqueItems", "not")
_MAX_BRANCH_ERRORS = 3


def load_spec(path=None):
    with open(path or DEFAULT_SPEC, encoding="utf-8") as f:
        return json.load(f)


def resolve_ref(spec, ref):
    if not ref.startswith("#/"):
        raise ValueError("unsupported $ref %r" % ref)
    node = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node[part]
    return node


def _type_name(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _type_ok(t, value):
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "null":
        return value is None
    return False


def _short(value, n=60):
    s = json.dumps(value, sort_keys=True)
    return s if len(s) <= n else s[:n - 3] + "..."


def _enum_has(enum, value):
    for e in enum:
        if type(e) is type(value) and e == value:
            return True
        if (_type_name(e) in ("integer", "number")
                and _type_name(value) in ("integer", "number")
                and e == value):
            return True
    return False


def _child(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
        return "%s.%s" % (path, key)
    return "%s[%s]" % (path, json.dumps(key))


def validate(spec, schema, value, path="$"):
    """Validate VALUE against SCHEMA (which may hold $refs into SPEC).
    Returns the list of every error found, each prefixed by its JSON path."""
    errors = []
    _validate(spec, schema, value, path, errors, 0)
    return errors


def _validate(spec, schema, value, path, errors, depth):
    if depth > 200:
        errors.append("%s: schema recursion too deep" % path)
        return
    if schema is True or schema is None:
        return
    if schema is False:
        errors.append("%s: no value allowed here" % path)
        return
    if not isinstance(schema, dict):
        errors.append("%s: bad schema %r" % (path, schema))
        return

    if "$ref" in schema:
        try:
            target = resolve_ref(spec, schema["$ref"])
        except (KeyError, ValueError) as e:
            errors.append("%s: cannot resolve %s (%s)"
                          % (path, schema["$ref"], e))
            return
        # In OpenAPI 3.0 siblings of $ref are ignored.
        _validate(spec, target, value, path, errors, depth + 1)
        return

    nullable = schema.get("nullable") is True
    if value is None:
        if nullable:
            return
        if not any(k in schema for k in _CONSTRAINTS):
            return  # {} or annotations only: anything goes
    elif nullable and not any(k in schema for k in _CONSTRAINTS):
        errors.append("%s: expected null, got %s" % (path, _short(value)))
        return

    t = schema.get("type")
    if t is not None:
        types = t if isinstance(t, list) else [t]
        if not any(_type_ok(x, value) for x in types):
            errors.append("%s: expected %s, got %s %s"
                          % (path, "|".join(types), _type_name(value),
                             _short(value)))
            return

    if "enum" in schema and not _enum_has(schema["enum"], value):
        errors.append("%s: %s is not one of %s"
                      % (path, _short(value), _short(schema["enum"], 120)))

    fmt = schema.get("format")
    if fmt is not None:
        _check_format(fmt, value, path, errors)

    if _type_ok("number", value):
        mn = schema.get("minimum")
        if mn is not None:
            if schema.get("exclusiveMinimum") is True and not value > mn:
                errors.append("%s: %s must be > %s" % (path, value, mn))
            elif value < mn:
                errors.append("%s: %s must be >= %s" % (path, value, mn))
        mx = schema.get("maximum")
        if mx is not None:
            if schema.get("exclusiveMaximum") is True and not value < mx:
                errors.append("%s: %s must be < %s" % (path, value, mx))
            elif value > mx:
                errors.append("%s: %s must be <= %s" % (path, value, mx))

    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append("%s: string shorter than %d"
                          % (path, schema["minLength"]))
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append("%s: string longer than %d"
                          % (path, schema["maxLength"]))

    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append("%s: fewer than %d items"
                          % (path, schema["minItems"]))
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append("%s: more than %d items"
                          % (path, schema["maxItems"]))
        if schema.get("uniqueItems") is True:
            seen = set()
            for item in value:
                key = json.dumps(item, sort_keys=True)
                if key in seen:
                    errors.append("%s: duplicate item %s"
                                  % (path, _short(item)))
                    break
                seen.add(key)
        if "items" in schema:
            for i, item in enumerate(value):
                _validate(spec, schema["items"], item, _child(path, i),
                          errors, depth + 1)

    if isinstance(value, dict):
        props = schema.get("properties", {})
        for req in schema.get("required", []):
            if req not in value:
                errors.append("%s: required property %r missing"
                              % (path, req))
        for key, sub in value.items():
            if key in props:
                _validate(spec, props[key], sub, _child(path, key), errors,
                          depth + 1)
            elif "additionalProperties" in schema:
                ap = schema["additionalProperties"]
                if ap is False:
                    errors.append("%s: unexpected property %r"
                                  % (path, key))
                elif isinstance(ap, dict):
                    _validate(spec, ap, sub, _child(path, key), errors,
                              depth + 1)

    if "allOf" in schema:
        for sub in schema["allOf"]:
            _validate(spec, sub, value, path, errors, depth + 1)

    if "anyOf" in schema:
        branch_errors = []
        for sub in schema["anyOf"]:
            errs = []
            _validate(spec, sub, value, path, errs, depth + 1)
            if not errs:
                break
            branch_errors.append(errs)
        else:
            errors.append(_branches_msg(path, "anyOf", value, branch_errors))

    if "oneOf" in schema:
        matched = 0
        branch_errors = []
        for sub in schema["oneOf"]:
            errs = []
            _validate(spec, sub, value, path, errs, depth + 1)
            if errs:
                branch_errors.append(errs)
            else:
                matched += 1
        if matched == 0:
            errors.append(_branches_msg(path, "oneOf", value, branch_errors))
        elif matched > 1:
            errors.append("%s: %s matches %d oneOf alternatives, expected 1"
                          % (path, _short(value), matched))


def _branches_msg(path, kw, value, branch_errors):
    parts = []
    for i, errs in enumerate(branch_errors):
        shown = "; ".join(errs[:_MAX_BRANCH_ERRORS])
        if len(errs) > _MAX_BRANCH_ERRORS:
            shown += "; ...(%d more)" % (len(errs) - _MAX_BRANCH_ERRORS)
        parts.append("#%d: %s" % (i, shown))
    return "%s: %s matches none of %s [%s]" % (path, _short(value), kw,
                                               " | ".join(parts))


def _check_format(fmt, value, path, errors):
    if fmt in _INT_RANGES and _type_ok("integer", value):
        lo, hi = _INT_RANGES[fmt]
        if value < lo or value > hi:
            errors.append("%s: %d out of range for format %s"
                          % (path, value, fmt))
    elif fmt in _INT_RANGES and _type_ok("number", value):
        errors.append("%s: %s is not an integer (format %s)"
                      % (path, value, fmt))
    elif fmt in ("float", "double"):
        pass  # type "number" already checked; JSON has no NaN/inf
    elif fmt == "uuid" and isinstance(value, str):
        if not _UUID_RE.match(value):
            errors.append("%s: %r is not a UUID" % (path, value))
    elif fmt == "date-time" and isinstance(value, str):
        if not _DATE_TIME_RE.match(value):
            errors.append("%s: %r is not an RFC 3339 date-time"
                          % (path, value))
    elif fmt == "partial-date-time" and isinstance(value, str):
        if not _PARTIAL_DATE_TIME_RE.match(value):
            errors.append("%s: %r is not a partial date-time "
                          "(YYYY-MM-DDTHH:MM:SS)" % (path, value))


# --- finding the schema of a response ------------------------------------

def match_path(spec, method, path):
    """Return the spec's path template that serves METHOD on the concrete
    PATH (query string ignored), preferring literal segments over
    {parameters} (so /collections/aliases beats /collections/{name}).
    None when there is none."""
    path = path.split("?", 1)[0]
    segs = [s for s in path.strip("/").split("/") if s != ""]
    method = method.lower()
    best, best_key = None, None
    for tmpl, ops in spec.get("paths", {}).items():
        if method not in ops:
            continue
        tsegs = [s for s in tmpl.strip("/").split("/") if s != ""]
        if len(tsegs) != len(segs):
            continue
        key = []
        for ts, s in zip(tsegs, segs):
            if ts.startswith("{") and ts.endswith("}"):
                key.append(0)
            elif ts == s:
                key.append(1)
            else:
                break
        else:
            key = tuple(key)
            if best_key is None or key > best_key:
                best, best_key = tmpl, key
    return best


def response_entry(spec, method, path, status):
    """The OpenAPI response object for STATUS (exact code, then 4XX/5XX,
    then default) of METHOD PATH.  Raises LookupError if the operation is
    not in the spec; returns None if no response covers STATUS."""
    tmpl = match_path(spec, method, path)
    if tmpl is None:
        raise LookupError("%s %s is not in the spec" % (method.upper(), path))
    responses = spec["paths"][tmpl][method.lower()].get("responses", {})
    status = str(status)
    for key in (status, status[0] + "XX", status[0] + "xx", "default"):
        if key in responses:
            return responses[key]
    return None


def response_schema(spec, method, path_template, status,
                    content_type="application/json"):
    """Schema of the CONTENT_TYPE body the spec declares for STATUS of
    METHOD PATH_TEMPLATE (a concrete path or a template).  None when the
    spec declares no such body (e.g. octet-stream downloads, text/plain, or
    a status the spec does not cover).  LookupError for an unknown
    operation."""
    entry = response_entry(spec, method, path_template, status)
    if entry is None:
        return None
    media = entry.get("content", {}).get(content_type)
    if media is None:
        return None
    return media.get("schema", True)


def response_content_types(spec, method, path, status):
    entry = response_entry(spec, method, path, status)
    if entry is None:
        return []
    return list(entry.get("content", {}).keys())


def _selftest():
    spec = load_spec()
    s = response_schema(spec, "GET", "/collections/c/snapshots/x.snapshot",
                        404)
    assert s == {"$ref": "#/components/schemas/ErrorResponse"}, s
    assert match_path(spec, "POST", "/collections/aliases") \
        == "/collections/aliases"
    assert match_path(spec, "POST", "/collections/c/snapshots/upload") \
        == "/collections/{collection_name}/snapshots/upload"
    assert match_path(spec, "GET", "/collections/c/snapshots/upload") \
        == "/collections/{collection_name}/snapshots/{snapshot_name}"
    assert response_schema(spec, "GET", "/snapshots/a", 200) is None
    sd = {"$ref": "#/components/schemas/SnapshotDescription"}
    assert validate(spec, sd, {"name": "a", "size": 1, "checksum": None,
                               "creation_time": "2024-01-01T00:00:00"}) == []
    assert validate(spec, sd, {"name": "a", "size": -1})
    assert validate(spec, sd, {"name": "a", "size": True})
    assert validate(spec, sd, {"name": "a", "size": 1.0})
    assert validate(spec, sd, {"name": "a"})
    assert validate(spec, sd, {"name": "a", "size": 1,
                               "creation_time": "2024-01-01 00:00"})
    rec = {"$ref": "#/components/schemas/Record"}
    assert validate(spec, rec, {"id": 1, "payload": None}) == []
    assert validate(spec, rec, {"id": "not-a-uuid"})
    assert validate(spec, rec, {"id": 1, "payload": 3})
    cs = {"$ref": "#/components/schemas/ClusterStatus"}
    assert validate(spec, cs, {"status": "disabled"}) == []
    assert validate(spec, cs, {"status": "enabled"})
    os_ = {"$ref": "#/components/schemas/OptimizersStatus"}
    assert validate(spec, os_, "ok") == []
    assert validate(spec, os_, {"error": "x"}) == []
    assert validate(spec, os_, {"error": "x", "y": 1})
    print("openapi_check self-test passed")


if __name__ == "__main__":
    _selftest()
