"""Debian's python3-confluent-kafka SchemaRegistryClient against our REST API.

Usage: /usr/bin/python3 python_client.py BASE_URL
Prints TAP-style lines ("ok - ..." / "not ok - ...").  Every public method of
the client is exercised, plus the legacy confluent_kafka.avro client's
Confluent-framed encode/decode through the registry (no Kafka broker needed).
"""
import io
import json
import struct
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

base = sys.argv[1]
client = SchemaRegistryClient({"url": base})
subject = "py-sensor-value"


def check(name, cond, info=""):
    print(("ok - " if cond else "not ok - ") + "python client: " + name)
    if not cond and info:
        print("#   " + str(info).replace("\n", "\n#   "))


def expect_error(name, fn, status, code):
    try:
        fn()
    except SchemaRegistryError as e:
        check(name, e.http_status_code == status and e.error_code == code,
              "got %s %s %s" % (e.http_status_code, e.error_code, e.error_message))
        return
    except Exception as e:  # noqa: BLE001
        check(name, False, "unexpected %r" % e)
        return
    check(name, False, "no error raised")


v1 = json.dumps({"type": "record", "name": "Reading", "namespace": "py.test",
                 "fields": [{"name": "device_id", "type": "string"},
                            {"name": "temperature", "type": "float"}]})
v2 = json.dumps({"type": "record", "name": "Reading", "namespace": "py.test",
                 "fields": [{"name": "device_id", "type": "string"},
                            {"name": "temperature", "type": "float"},
                            {"name": "battery", "type": ["null", "float"], "default": None}]})
breaking = json.dumps({"type": "record", "name": "Reading", "namespace": "py.test",
                       "fields": [{"name": "device_id", "type": "string"},
                                  {"name": "temperature", "type": "float"},
                                  {"name": "battery", "type": "float"}]})

try:
    id1 = client.register_schema(subject, Schema(v1, "AVRO"))
    check("register_schema returns an id", isinstance(id1, int) and id1 > 0, id1)
    again = client.register_schema(subject, Schema(v1, "AVRO"))
    check("register_schema is idempotent", again == id1, again)

    s = client.get_schema(id1)
    check("get_schema returns the schema", json.loads(s.schema_str)["name"] == "Reading"
          and s.schema_type == "AVRO", s.schema_str)

    reg = client.lookup_schema(subject, Schema(v1, "AVRO"))
    check("lookup_schema finds the version", reg.schema_id == id1 and reg.version == 1
          and reg.subject == subject, vars(reg))

    check("test_compatibility: compatible evolution",
          client.test_compatibility(subject, Schema(v2, "AVRO")) is True)
    check("test_compatibility: breaking change refused",
          client.test_compatibility(subject, Schema(breaking, "AVRO")) is False)
    expect_error("registering a breaking change is 409",
                 lambda: client.register_schema(subject, Schema(breaking, "AVRO")), 409, 409)

    id2 = client.register_schema(subject, Schema(v2, "AVRO"))
    check("register_schema: second version gets a new id", id2 != id1, id2)
    check("get_subjects lists the subject", subject in client.get_subjects())
    check("get_versions", client.get_versions(subject) == [1, 2], client.get_versions(subject))
    latest = client.get_latest_version(subject)
    check("get_latest_version", latest.version == 2 and latest.schema_id == id2, vars(latest))
    one = client.get_version(subject, 1)
    check("get_version", one.version == 1 and one.schema_id == id1, vars(one))

    check("get_compatibility (global)", client.get_compatibility() == "BACKWARD")
    res = client.set_compatibility(subject, "FULL")
    check("set_compatibility (subject)", res == {"compatibility": "FULL"}, res)
    check("get_compatibility (subject)", client.get_compatibility(subject) == "FULL")
    res = client.set_compatibility(level="FORWARD")
    check("set_compatibility (global)", res == {"compatibility": "FORWARD"}, res)
    check("get_compatibility sees the global level", client.get_compatibility() == "FORWARD")
    client.set_compatibility(level="BACKWARD")
    expect_error("set_compatibility refuses unknown levels",
                 lambda: client.set_compatibility(subject, "SIDEWAYS"), 422, 42203)

    check("delete_version", client.delete_version(subject, 2) == 2)
    check("after delete_version, latest is 1", client.get_latest_version(subject).version == 1)
    expect_error("get_version of a deleted version is 40402",
                 lambda: client.get_version(subject, 2), 404, 40402)
    check("delete_subject (soft)", client.delete_subject(subject) == [1])
    expect_error("get_versions of a deleted subject is 40401",
                 lambda: client.get_versions(subject), 404, 40401)
    expect_error("soft-deleting a soft-deleted subject is 40404",
                 lambda: client.delete_subject(subject), 404, 40404)
    # This client soft-deletes, then deletes permanently.
    client.register_schema("py-other", Schema(v1, "AVRO"))
    check("delete_subject (permanent)", client.delete_subject("py-other", permanent=True) == [1])
    check("a permanently deleted subject is gone", "py-other" not in client.get_subjects(deleted=True)
          if "deleted" in SchemaRegistryClient.get_subjects.__code__.co_varnames
          else "py-other" not in client.get_subjects())
    check("re-registering soft-deleted content keeps its id",
          SchemaRegistryClient({"url": base}).register_schema(subject, Schema(v1, "AVRO")) == id1)
    expect_error("get_schema of an unknown id is 40403",
                 lambda: client.get_schema(987654), 404, 40403)
    expect_error("lookup_schema of an unknown schema is 40403",
                 lambda: client.lookup_schema(subject, Schema(breaking, "AVRO")), 404, 40403)
    expect_error("register_schema of an invalid schema is 42201",
                 lambda: client.register_schema("py-bad", Schema('{"type":"nope"}', "AVRO")),
                 422, 42201)
except Exception as e:  # noqa: BLE001
    check("no unexpected exception", False, repr(e))

# The legacy Avro client (python3-avro) encodes and decodes Confluent-framed
# Avro, fetching and registering schemas through our API.
try:
    import avro.schema
    from confluent_kafka.avro import CachedSchemaRegistryClient
    from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

    legacy = CachedSchemaRegistryClient({"url": base})
    ser = MessageSerializer(legacy)
    sch = avro.schema.parse(v1)
    payload = ser.encode_record_with_schema("py-legacy",  # topic: subject py-legacy-value
                                           sch, {"device_id": "d1", "temperature": 21.5})
    magic, sid = struct.unpack(">bI", payload[:5])
    check("legacy AvroSerializer frames with magic byte and registered id",
          magic == 0 and sid == legacy.get_latest_schema("py-legacy-value")[0], (magic, sid))
    fresh = MessageSerializer(CachedSchemaRegistryClient({"url": base}))
    back = fresh.decode_message(payload)
    check("legacy decode fetches the writer schema by id", back == {"device_id": "d1", "temperature": 21.5},
          back)
except ImportError as e:
    check("legacy avro client available", False, repr(e))
except Exception as e:  # noqa: BLE001
    check("legacy avro client round trip", False, repr(e))
