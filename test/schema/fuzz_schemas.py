#!/usr/bin/env python3
"""Print mutated Avro schemas, one per line, base64-encoded UTF-8.

Seeds are valid schemas; mutations flip, drop, duplicate and splice
characters and JSON tokens, so the output mixes valid schemas, invalid
schemas and broken JSON.  Deterministic for a given seed and count.
"""
import base64
import json
import random
import sys

SEEDS = [
    '"int"', '{"type":"long","logicalType":"timestamp-millis"}',
    '["null","string",{"type":"array","items":"int"}]',
    '{"type":"record","name":"SensorEvent","namespace":"com.iot.pipeline","fields":[{"name":"device_id","type":"string"},{"name":"device_name","type":["null","string"],"default":null},{"name":"timestamp","type":"long"},{"name":"temperature","type":"float"},{"name":"humidity","type":"float"},{"name":"location","type":["null","string"],"default":null}]}',
    '{"type":"record","name":"LongList","aliases":["LinkedLongs"],"fields":[{"name":"value","type":"long","default":0},{"name":"next","type":["null","LongList"],"default":null}]}',
    '{"type":"enum","name":"Suit","namespace":"a.b","symbols":["SPADES","HEARTS","DIAMONDS","CLUBS"],"default":"HEARTS","doc":"d"}',
    '{"type":"fixed","name":"md5","size":16,"logicalType":"decimal","precision":10,"scale":2}',
    '{"type":"map","values":{"type":"record","name":"V","fields":[{"name":"a","type":{"type":"enum","name":"E","symbols":["X","Y"]},"default":"X"},{"name":"b","type":"E"},{"name":"c","type":{"type":"array","items":"double"},"default":[1,2.5,"NaN"]}]}}',
    '{"type":"record","name":"R","fields":[{"name":"r","type":{"type":"record","name":"S","fields":[{"name":"x","type":"int","default":1},{"name":"y","type":["string","null"],"default":"q"}]},"default":{"y":"z"},"order":"descending","confluent:tags":["PII"]}]}',
]
TOKENS = ['{', '}', '[', ']', ',', ':', '"type"', '"name"', '"fields"', '"items"',
          '"values"', '"symbols"', '"size"', '"default"', '"namespace"', '"aliases"',
          '"record"', '"enum"', '"fixed"', '"array"', '"map"', '"error"', '"null"',
          'null', 'true', '1', '-1', '1.5', '1e400', '"int"', '"R"', '"a.b"', '""',
          '"\\u00e9"', '"\\ud83d\\ude00"', '"\\u0001"', '"é€"', '"LongList"', '"S"',
          '"logicalType"', '"decimal"', '"precision"', '99999999999999999999']
CHARS = '{}[],:"\\ abcxyz019.-+eE\u00e9\u20ac'


class Gen:
    """Random schemas that are meant to be valid, written in random key order."""

    PRIMS = ['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']
    LOGICAL = [('int', 'date'), ('int', 'time-millis'), ('long', 'time-micros'),
               ('long', 'timestamp-millis'), ('long', 'local-timestamp-micros'),
               ('string', 'uuid'), ('int', 'uuid'), ('long', 'nonsense')]

    def __init__(self, rng):
        self.rng = rng
        self.n = 0
        self.named = []

    def name(self):
        self.n += 1
        return self.rng.choice(['R', 'E', 'F', 'rec', '_x', 'Node']) + str(self.n)

    def props(self):
        rng = self.rng
        out = {}
        for _ in range(rng.choice([0, 0, 0, 1, 2])):
            out[rng.choice(['confluent:tags', 'x', 'a', 'zz', 'meta'])] = rng.choice(
                [['PII'], 1, 2.5, 'v', {'b': 1, 'a': [1, {'d': None, 'c': True}]}, None, 1e-7])
        return out

    def value(self, s):
        """A default value valid for schema s (None when none is known)."""
        rng = self.rng
        if isinstance(s, list):
            return self.value(s[0]) if s else None
        t = s if isinstance(s, str) else s.get('type')
        if isinstance(s, str) and s not in self.PRIMS:
            t = self.types.get(s, {}).get('type')
            s = self.types.get(s, s)
        return {'null': None, 'boolean': True, 'int': rng.choice([0, -5, 2147483647]),
                'long': rng.choice([0, 2 ** 40]), 'float': rng.choice([1, 0.1, 3.25, 'NaN']),
                'double': rng.choice([1, 1e10, 0.001, -0.0]), 'bytes': '\u00ff\u00e9a',
                'string': rng.choice(['', 'x', '\u00e9\u20ac\n']),
                'enum': (s.get('symbols') or [None])[0] if isinstance(s, dict) else None,
                'fixed': 'a' * s.get('size', 0) if isinstance(s, dict) else None,
                'array': [], 'map': {}}.get(t)

    def schema(self, depth, ns):
        rng = self.rng
        k = rng.randrange(12 if depth < 4 else 3)
        if k == 0:
            return rng.choice(self.PRIMS)
        if k == 1:
            base, lt = rng.choice(self.LOGICAL)
            d = {'type': base, 'logicalType': lt}
            d.update(self.props())
            return d
        if k == 2:
            return {'type': rng.choice(self.PRIMS), **self.props()}
        if k == 3 and self.named:
            return rng.choice(self.named)
        if k == 4:
            d = {'type': 'array', 'items': self.schema(depth + 1, ns)}
            d.update(self.props())
            return d
        if k == 5:
            return {'type': 'map', 'values': self.schema(depth + 1, ns), **self.props()}
        if k == 6:
            branches, seen = [], set()
            for _ in range(rng.randint(1, 4)):
                b = self.schema(depth + 1, ns)
                if isinstance(b, list):
                    continue
                key = b if isinstance(b, str) else b.get('name', b.get('type'))
                if isinstance(b, str) and b in self.types:
                    key = self.types[b]['name']
                if key in seen:
                    continue
                seen.add(key)
                branches.append(b)
            return branches
        if k == 7:
            n = self.name()
            d = {'type': 'enum', 'name': n, 'symbols': ['A', 'B', 'C'][:rng.randint(1, 3)]}
            if rng.random() < 0.3:
                d['default'] = 'A'
            if rng.random() < 0.3:
                d['aliases'] = ['Z' + n, 'y.Q' + n]
            self.note(d, ns)
            return d
        if k == 8:
            n = self.name()
            d = {'type': 'fixed', 'name': n, 'size': rng.choice([0, 4, 12, 16])}
            if rng.random() < 0.3:
                d.update({'logicalType': 'decimal', 'precision': rng.choice([1, 9, 30]), 'scale': rng.choice([0, 1])})
            self.note(d, ns)
            return d
        n = self.name()
        d = {'type': rng.choice(['record', 'record', 'error']), 'name': n}
        if rng.random() < 0.4:
            d['namespace'] = rng.choice(['', 'a.b', 'c', ns or 'q'])
        inner_ns = d.get('namespace', ns) or None
        if rng.random() < 0.3:
            d['doc'] = rng.choice(['', 'doc "q"', '\u00e9'])
        self.note(d, ns)
        fields = []
        for i in range(rng.randint(0, 4)):
            f = {'name': 'f%d' % i, 'type': self.schema(depth + 1, inner_ns)}
            v = self.value(f['type'])
            if v is not None or (isinstance(f['type'], list) and f['type'] and f['type'][0] == 'null'):
                if rng.random() < 0.6:
                    f['default'] = v
            if rng.random() < 0.2:
                f['order'] = rng.choice(['ascending', 'descending', 'ignore'])
            if rng.random() < 0.2:
                f['aliases'] = ['old%d' % i, 'b']
            if rng.random() < 0.2:
                f['doc'] = 'field'
            f.update(self.props())
            fields.append(f)
        d['fields'] = fields
        d.update(self.props())
        return d

    def note(self, d, ns):
        space = d.get('namespace', ns) or None
        full = (space + '.' + d['name']) if space else d['name']
        self.types[full] = d
        self.named.append(full)

    def dumps(self, v):
        rng = self.rng
        ws = lambda: rng.choice(['', '', ' ', '\n  '])
        if isinstance(v, dict):
            items = list(v.items())
            rng.shuffle(items)
            return '{' + ws() + (',' + ws()).join(
                json.dumps(k) + ws() + ':' + ws() + self.dumps(x) for k, x in items) + ws() + '}'
        if isinstance(v, list):
            return '[' + ws() + (',' + ws()).join(self.dumps(x) for x in v) + ']'
        return json.dumps(v, ensure_ascii=rng.random() < 0.5)

    def make(self):
        self.n = 0
        self.named = []
        self.types = {}
        return self.dumps(self.schema(0, None))


def mutate(rng, s):
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(7)
        i = rng.randrange(len(s) + 1)
        if op == 0 and s:
            s = s[:i] + s[i + 1:]
        elif op == 1:
            s = s[:i] + rng.choice(CHARS) + s[i:]
        elif op == 2:
            s = s[:i] + rng.choice(TOKENS) + s[i:]
        elif op == 3:
            j = rng.randrange(len(s) + 1)
            s = s[:min(i, j)] + s[max(i, j):]
        elif op == 4:
            j = rng.randrange(len(s) + 1)
            s = s[:i] + s[min(i, j):max(i, j)] + s[i:]
        elif op == 5:
            s = s[:i]
        else:
            other = rng.choice(SEEDS)
            s = s[:i] + other[rng.randrange(len(other) + 1):]
    return s


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[-2] == '-o':
        sys.stdout = open(args[-1], 'w')
        args = args[:-2]
    count = int(args[0]) if len(args) > 0 else 2000
    rng = random.Random(int(args[1]) if len(args) > 1 else 42)
    for seed in SEEDS:
        print(base64.b64encode(seed.encode()).decode())
    gen = Gen(rng)
    for _ in range(count):
        s = gen.make()
        print(base64.b64encode(s.encode('utf-8', 'surrogatepass')).decode())
        s = mutate(rng, rng.choice(SEEDS + [s]))
        print(base64.b64encode(s.encode('utf-8', 'surrogatepass')).decode())


if __name__ == '__main__':
    main()
