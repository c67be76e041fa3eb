// npm @kafkajs/confluent-schema-registry 3.x against our REST API.
// Usage: node node_client.js BASE_URL [USER PASSWORD]
// Prints TAP-style lines.  Producing to Kafka needs a broker and is not
// exercised here; the registry side (register, encode, decode) is.
'use strict';
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');

const [base, user, password] = process.argv.slice(2);
const auth = user ? { username: user, password } : undefined;
const registry = new SchemaRegistry({ host: base, auth });

function check(name, cond, info) {
  console.log((cond ? 'ok - ' : 'not ok - ') + 'node client: ' + name);
  if (!cond && info !== undefined) console.log('#   ' + String(info).replace(/\n/g, '\n#   '));
}

const v1 = {
  type: 'record', name: 'SensorEvent', namespace: 'com.iot.pipeline',
  fields: [
    { name: 'device_id', type: 'string' },
    { name: 'timestamp', type: 'long' },
    { name: 'temperature', type: 'float' },
  ],
};
const v2 = JSON.parse(JSON.stringify(v1));
v2.fields.push({ name: 'battery_level', type: ['null', 'float'], default: null });
const breaking = JSON.parse(JSON.stringify(v1));
breaking.fields.push({ name: 'battery_level', type: 'float' });

async function main() {
  const subject = 'node-sensor-value';
  // register() first calls GET /config/{subject} and needs 40408 there.
  const { id } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
  check('register returns an id', Number.isInteger(id) && id > 0, id);
  const again = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(v1) }, { subject });
  check('register again returns the same id', again.id === id, JSON.stringify(again));

  const event = { device_id: 'dev-1', timestamp: 1700000000000, temperature: 20.5 };
  const encoded = await registry.encode(id, event);
  check('encode writes the Confluent frame', encoded[0] === 0 && encoded.readInt32BE(1) === id,
    encoded.toString('hex'));
  const fresh = new SchemaRegistry({ host: base, auth });
  const decoded = await fresh.decode(encoded);
  check('decode (fresh client) fetches the schema by id', JSON.stringify(decoded) === JSON.stringify(event),
    JSON.stringify(decoded));

  const latest = await registry.getLatestSchemaId(subject);
  check('getLatestSchemaId', latest === id, latest);
  const byVersion = await registry.getRegistryId(subject, 1);
  check('getRegistryId(subject, 1)', byVersion === id, byVersion);
  const idBySchema = await registry.getRegistryIdBySchema(subject,
    { type: SchemaType.AVRO, schema: JSON.stringify(v1) });
  check('getRegistryIdBySchema (lookup)', idBySchema === id, idBySchema);
  const schema = await registry.getSchema(id);
  check('getSchema', schema && /SensorEvent$/.test(schema.name), JSON.stringify(schema));

  let refused = null;
  try {
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(breaking) }, { subject });
  } catch (e) {
    refused = e;
  }
  check('a breaking change is refused with 409',
    refused && refused.status === 409 && /incompatible/.test(refused.message), refused && refused.message);

  const r2 = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(v2) }, { subject });
  check('a compatible evolution registers', r2.id !== id, JSON.stringify(r2));
  const enc2 = await registry.encode(r2.id, { ...event, battery_level: 88.5 });
  const dec2 = await fresh.decode(enc2);
  check('encode/decode with the evolved schema', dec2.battery_level === 88.5, JSON.stringify(dec2));

  let notFound = null;
  try {
    await fresh.getSchema(987654);
  } catch (e) {
    notFound = e;
  }
  check('unknown id is a 404', notFound && notFound.status === 404, notFound && notFound.message);
}

main().catch((e) => {
  check('no unexpected exception', false, e && (e.stack || e.message || e));
});
