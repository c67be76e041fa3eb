#!/usr/bin/python3
"""Seed-like sensor events for the Kafka tests and the demo.

producer.py BOOTSTRAP TOPIC COUNT --id ID [--v2] [--seed S] [--rate R] [--poison N]

Encodes SensorEvent records (v1, or v2 with battery_level) in Avro by hand and
frames them in the Confluent wire format with the registered schema id.
With --poison N, every kind of bad message is sent N times (round robin):
bad magic byte, unknown schema id, truncated body, truncated frame, a NUL in
device_id, a timestamp out of range, humidity above 100 (a CHECK the test
adds), and a tombstone.  Prints "good N poison N" at the end.
"""
import argparse
import random
import struct
import sys
import time

from confluent_kafka import Producer


def zigzag(n):
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def string(s):
    b = s.encode("utf-8")
    return zigzag(len(b)) + b


def encode(ev, v2):
    out = string(ev["device_id"])
    out += (zigzag(1) + string(ev["device_name"])) if ev["device_name"] is not None else zigzag(0)
    out += zigzag(ev["timestamp"])
    out += struct.pack("<f", ev["temperature"]) + struct.pack("<f", ev["humidity"])
    out += (zigzag(1) + string(ev["location"])) if ev["location"] is not None else zigzag(0)
    if v2:
        out += (zigzag(1) + struct.pack("<f", ev["battery_level"])) if ev["battery_level"] is not None else zigzag(0)
    return out


def frame(schema_id, body):
    return b"\x00" + struct.pack(">I", schema_id) + body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("count", type=int)
    ap.add_argument("--id", type=int, required=True)
    ap.add_argument("--v2", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rate", type=float, default=0, help="messages per second (0: as fast as possible)")
    ap.add_argument("--poison", type=int, default=0)
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--start-ms", type=int, default=1700000000000)
    ap.add_argument("--latency-out", default=None, help="write 'send_time_us' per message id here")
    args = ap.parse_args()

    rnd = random.Random(args.seed)
    p = Producer({"bootstrap.servers": args.bootstrap, "linger.ms": 5, "compression.type": "lz4",
                  "acks": "all", "enable.idempotence": False, "log_level": 3,
                  "queue.buffering.max.messages": 1000000})
    errors = []

    def report(err, msg):
        if err is not None:
            errors.append(str(err))

    locations = ["Lisbon", "Porto", "Madrid", None, "Berlin", "Paris"]
    good = 0
    t0 = time.time()
    for i in range(args.count):
        dev = rnd.randrange(args.devices)
        ev = {
            "device_id": "sensor-%03d" % dev,
            "device_name": None if dev % 7 == 0 else "Sensor %d" % dev,
            # spread over ~6 hours, with late events
            "timestamp": args.start_ms + rnd.randrange(6 * 3600 * 1000),
            "temperature": round(rnd.uniform(-10, 40), 2),
            "humidity": round(rnd.uniform(10, 90), 2),
            "location": locations[dev % len(locations)],
            "battery_level": None if rnd.random() < 0.1 else round(rnd.uniform(0, 100), 1),
        }
        if args.latency_out:
            ev["timestamp"] = int(time.time() * 1000)
        p.produce(args.topic, key=ev["device_id"].encode(), value=frame(args.id, encode(ev, args.v2)),
                  on_delivery=report)
        good += 1
        if args.rate > 0:
            target = t0 + (i + 1) / args.rate
            while True:
                p.poll(0)
                d = target - time.time()
                if d <= 0:
                    break
                time.sleep(min(d, 0.01))
        elif i % 1000 == 0:
            p.poll(0)
    poison = 0
    for i in range(args.poison * 8):
        kind = i % 8
        ev = {"device_id": "poison-%d" % i, "device_name": None, "timestamp": args.start_ms,
              "temperature": 20.0, "humidity": 50.0, "location": None, "battery_level": None}
        if kind == 0:
            value = b"\x01" + frame(args.id, encode(ev, args.v2))[1:]
        elif kind == 1:
            value = frame(999999, encode(ev, args.v2))
        elif kind == 2:
            body = encode(ev, args.v2)
            value = frame(args.id, body[: len(body) // 2])
        elif kind == 3:
            value = b"\x00\x00"
        elif kind == 4:
            ev["device_id"] = "nul\x00byte"
            value = frame(args.id, encode(ev, args.v2))
        elif kind == 5:
            ev["timestamp"] = 1 << 62
            value = frame(args.id, encode(ev, args.v2))
        elif kind == 6:
            ev["humidity"] = 150.0
            value = frame(args.id, encode(ev, args.v2))
        else:
            value = None
        p.produce(args.topic, key=b"poison", value=value, on_delivery=report)
        poison += 1
    p.flush(60)
    if errors:
        print("delivery errors: %d (%s)" % (len(errors), errors[0]), file=sys.stderr)
        sys.exit(1)
    print("good %d poison %d" % (good, poison))


if __name__ == "__main__":
    main()
