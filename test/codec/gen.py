#!/usr/bin/python3
# Differential tests of the Avro codec against Debian's python3-avro.
#
#   gen.py gen SEED NSCHEMAS NDATA OUT.tsv   random schemas and data, encoded by
#       python-avro: lines "case<TAB>schema<TAB>hex<TAB>expected natural jsonb"
#   gen.py check IN.tsv                      lines "case<TAB>schema<TAB>hex<TAB>datum json"
#       where hex was encoded by us: decode with python-avro, compare to datum
#
# The expected natural form is computed here from the datum: unions unwrapped,
# bytes/fixed as "\x" hex, floats as their shortest round-trip decimal, NaN and
# infinities as strings.  Run with /usr/bin/python3 (Debian's, which has avro).
import io
import json
import math
import random
import struct
import sys

import avro.io
import avro.schema

PRIMS = ["null", "boolean", "int", "long", "float", "double", "bytes", "string"]


class Gen:
    def __init__(self, rnd):
        self.r = rnd
        self.n = 0
        self.named = []

    def name(self, prefix):
        self.n += 1
        return "%s%d" % (prefix, self.n)

    def schema(self, depth=0, in_union=False):
        r = self.r
        choices = ["prim"] * 6 + ["record", "enum", "array", "map", "fixed"]
        if not in_union:
            choices += ["union"] * 2
        if self.named and depth > 0:
            choices.append("ref")
        if depth >= 3:
            choices = ["prim"]
        k = r.choice(choices)
        if k == "prim":
            p = r.choice(PRIMS)
            return p if not in_union else p
        if k == "ref":
            return self.named[r.randrange(len(self.named))]["name"]
        if k == "record":
            s = {"type": "record", "name": self.name("R"), "fields": []}
            for i in range(r.randrange(0, 5)):
                s["fields"].append({"name": "f%d" % i, "type": self.schema(depth + 1)})
            self.named.append(s)
            return s
        if k == "enum":
            s = {"type": "enum", "name": self.name("E"),
                 "symbols": ["S%d" % i for i in range(r.randrange(1, 6))]}
            self.named.append(s)
            return s
        if k == "fixed":
            s = {"type": "fixed", "name": self.name("F"), "size": r.randrange(0, 20)}
            self.named.append(s)
            return s
        if k == "array":
            return {"type": "array", "items": self.schema(depth + 1)}
        if k == "map":
            return {"type": "map", "values": self.schema(depth + 1)}
        # union: distinct unnamed types, any named types
        branches = []
        kinds = set()
        for _ in range(r.randrange(1, 5)):
            b = self.schema(depth + 1, in_union=True)
            kind = b if isinstance(b, str) and b in PRIMS else (
                b["type"] if isinstance(b, dict) and b["type"] in ("array", "map", "fixed", "enum") else None)
            if kind is not None:
                # Unions whose natural form is ambiguous are left out (the
                # Avro JSON form round trip covers them): two numeric kinds
                # (python-avro puts an int datum in a float branch), bytes and
                # fixed (both "\x" hex), string and enum (both strings), float
                # and string ("NaN").
                klass = {"int": "num", "long": "num", "float": "num", "double": "num", "boolean": "num",
                         "bytes": "bin", "fixed": "bin", "string": "sym", "enum": "sym"}.get(kind, kind)
                if klass in kinds or (kind in ("float", "double") and "string" in kinds) or \
                        (kind == "string" and ("float" in kinds or "double" in kinds)):
                    continue
                kinds.add(klass)
                kinds.add(kind)
            else:
                # a named type at most once (by definition or reference)
                nm = b if isinstance(b, str) else b.get("name")
                if any((x if isinstance(x, str) else x.get("name")) == nm for x in branches):
                    continue
            branches.append(b)
        return branches


def shortest_float(f):
    for p in range(1, 10):
        s = "%.*g" % (p, f)
        if struct.unpack("<f", struct.pack("<f", float(s)))[0] == f:
            return s
    return repr(f)


def jsonb_key_order(k):
    b = k.encode("utf-8")
    return (len(b), b)


class Data:
    def __init__(self, rnd, names):
        self.r = rnd
        self.names = names

    def resolve(self, s):
        if isinstance(s, str) and s not in PRIMS:
            return self.names[s]
        return s

    def datum(self, s, depth=0):
        """A random datum for schema s, and its expected natural jsonb."""
        r = self.r
        s = self.resolve(s)
        if isinstance(s, list):
            # recursive types: prefer null when deep
            idx = r.randrange(len(s))
            if depth > 4 and "null" in s:
                idx = s.index("null")
            return self.datum(s[idx], depth + 1)
        t = s if isinstance(s, str) else s["type"]
        if t == "null":
            return None, None
        if t == "boolean":
            v = r.random() < 0.5
            return v, v
        if t == "int":
            v = r.choice([0, 1, -1, 2**31 - 1, -2**31, r.randrange(-2**31, 2**31), r.randrange(-100, 100)])
            return v, v
        if t == "long":
            v = r.choice([0, 2**63 - 1, -2**63, r.randrange(-2**63, 2**63), r.randrange(-2**40, 2**40)])
            return v, v
        if t in ("float", "double"):
            c = r.random()
            if c < 0.05:
                v = float("nan")
            elif c < 0.1:
                v = r.choice([float("inf"), float("-inf")])
            else:
                v = r.choice([0.0, -0.5, r.uniform(-1e6, 1e6), r.uniform(-1, 1) * 10 ** r.randrange(-30, 30)])
            if t == "float":
                v = struct.unpack("<f", struct.pack("<f", v))[0]
            if math.isnan(v):
                return v, "NaN"
            if math.isinf(v):
                return v, "Infinity" if v > 0 else "-Infinity"
            text = shortest_float(v) if t == "float" else repr(v)
            return v, ("NUM", text)
        if t == "bytes":
            v = bytes(r.randrange(1, 256) for _ in range(r.randrange(0, 12)))
            return v, "\\x" + v.hex()
        if t == "string":
            alphabet = "abcXYZ019 _-é✓中🎉\"\\/\n"
            v = "".join(r.choice(alphabet) for _ in range(r.randrange(0, 12)))
            return v, v
        if t == "fixed":
            v = bytes(r.randrange(1, 256) for _ in range(s["size"]))
            return v, "\\x" + v.hex()
        if t == "enum":
            v = r.choice(s["symbols"])
            return v, v
        if t == "array":
            items = [self.datum(s["items"], depth + 1) for _ in range(r.randrange(0, 4 if depth < 3 else 1))]
            return [a for a, _ in items], [b for _, b in items]
        if t == "map":
            keys = sorted({"k%d" % r.randrange(0, 1000) for _ in range(r.randrange(0, 4 if depth < 3 else 1))},
                          key=jsonb_key_order)
            d, e = {}, {}
            for k in keys:
                d[k], e[k] = self.datum(s["values"], depth + 1)
            return d, e
        if t == "record":
            d, e = {}, {}
            for f in s["fields"]:
                d[f["name"]], e[f["name"]] = self.datum(f["type"], depth + 1)
            return d, e
        raise ValueError(t)


def to_json(e):
    """Expected natural form as JSON text (numbers kept as written)."""
    if isinstance(e, tuple):
        return e[1]
    if isinstance(e, dict):
        return "{" + ",".join(json.dumps(k) + ":" + to_json(v) for k, v in e.items()) + "}"
    if isinstance(e, list):
        return "[" + ",".join(to_json(v) for v in e) + "]"
    return json.dumps(e)


def collect_names(s, out):
    if isinstance(s, dict):
        if s.get("type") in ("record", "enum", "fixed"):
            out[s["name"]] = s
        for f in s.get("fields", []):
            collect_names(f["type"], out)
        if "items" in s:
            collect_names(s["items"], out)
        if "values" in s:
            collect_names(s["values"], out)
    elif isinstance(s, list):
        for b in s:
            collect_names(b, out)


def gen(seed, nschemas, ndata, out):
    rnd = random.Random(seed)
    with open(out, "w") as f:
        made = 0
        while made < nschemas:
            g = Gen(rnd)
            s = g.schema()
            text = json.dumps(s, separators=(",", ":"))
            try:
                ps = avro.schema.parse(text)
            except Exception:
                continue        # e.g. a union python-avro rejects
            names = {}
            collect_names(s, names)
            data = Data(rnd, names)
            writer = avro.io.DatumWriter(ps)
            for i in range(ndata):
                d, e = data.datum(s)
                buf = io.BytesIO()
                try:
                    writer.write(d, avro.io.BinaryEncoder(buf))
                except Exception:
                    continue    # ambiguous union values python cannot place
                # python-avro picks the first matching branch; so do we
                f.write("%d.%d\t%s\t%s\t%s\n" % (made, i, text, buf.getvalue().hex(), to_json(e)))
            made += 1


def same(a, b):
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b and type(a) == type(b)


def check(path):
    ok = bad = 0
    for line in open(path):
        case, text, ours, theirs = line.rstrip("\n").split("\t")
        ps = avro.schema.parse(text)
        reader = avro.io.DatumReader(ps)
        try:
            a = reader.read(avro.io.BinaryDecoder(io.BytesIO(bytes.fromhex(ours))))
            b = reader.read(avro.io.BinaryDecoder(io.BytesIO(bytes.fromhex(theirs))))
        except Exception as ex:
            a, b = ex, None
        if same(a, b):
            ok += 1
        else:
            bad += 1
            if bad <= 5:
                print("# python-avro decodes our %s differently: %r vs %r (%s)" % (case, a, b, text))
    print("%d %d" % (ok, bad))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        check(sys.argv[2])
