#!/usr/bin/python3
"""Debian python3-confluent-kafka's legacy Avro clients against our registry.

avro_clients.py produce BOOTSTRAP REGISTRY TOPIC N V1.avsc V2.avsc
    AvroProducer: N SensorEvent v1 records, then N v2 records (schemas
    registered through REGISTRY's REST API on TOPIC-value).
avro_clients.py consume BOOTSTRAP REGISTRY TOPIC COUNT GROUP
    AvroConsumer: read COUNT records from the beginning, decoding through
    REGISTRY, and print one JSON line per record (sorted by device_id).
"""
import json
import sys
import time

from confluent_kafka import avro
from confluent_kafka.avro import AvroConsumer, AvroProducer


def event(i, v2):
    ev = {
        "device_id": "py-%s-%04d" % ("v2" if v2 else "v1", i),
        "device_name": None if i % 3 == 0 else "sensor %d" % i,
        "timestamp": 1700000000000 + i * 1000,
        "temperature": 20.0 + (i % 10) * 0.5,
        "humidity": 40.0 + (i % 20),
        "location": "hall" if i % 2 else None,
    }
    if v2:
        ev["battery_level"] = 50.0 + (i % 50)
    return ev


def produce(boot, registry, topic, n, v1_path, v2_path):
    v1 = avro.load(v1_path)
    v2 = avro.load(v2_path)
    p = AvroProducer({"bootstrap.servers": boot, "schema.registry.url": registry,
                      "linger.ms": 5}, default_value_schema=v1)
    for i in range(n):
        p.produce(topic=topic, value=event(i, False))
    for i in range(n):
        p.produce(topic=topic, value=event(i, True), value_schema=v2)
    left = p.flush(30)
    print("produced %d, undelivered %d" % (2 * n, left))
    return 0 if left == 0 else 1


def consume(boot, registry, topic, count, group):
    c = AvroConsumer({"bootstrap.servers": boot, "schema.registry.url": registry,
                      "group.id": group, "auto.offset.reset": "earliest",
                      "session.timeout.ms": 6000, "enable.auto.commit": False})
    c.subscribe([topic])
    out = []
    deadline = time.time() + 40
    while len(out) < count and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            print("error: %s" % m.error(), file=sys.stderr)
            continue
        out.append(m.value())
    c.close()
    for v in sorted(out, key=lambda v: v["device_id"]):
        print(json.dumps(v, sort_keys=True))
    return 0 if len(out) == count else 1


if __name__ == "__main__":
    a = sys.argv
    if a[1] == "produce":
        sys.exit(produce(a[2], a[3], a[4], int(a[5]), a[6], a[7]))
    sys.exit(consume(a[2], a[3], a[4], int(a[5]), a[6]))
