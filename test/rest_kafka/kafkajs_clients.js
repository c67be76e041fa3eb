// npm kafkajs 2.x + @kafkajs/confluent-schema-registry 3.9 against our
// registry and the mock broker (NODE_PATH: test/rest/node_modules).
//
//   node kafkajs_clients.js produce BOOTSTRAP REGISTRY TOPIC N V2.avsc
//       register SensorEvent v2 on TOPIC-value, encode N records, produce;
//       prints {"id": N}
//   node kafkajs_clients.js consume BOOTSTRAP REGISTRY TOPIC COUNT GROUP
//       read COUNT messages from the beginning, decode each through the
//       registry, print one JSON line per message sorted by device_id
const fs = require('fs');
const { Kafka, logLevel } = require('kafkajs');
const { SchemaRegistry, SchemaType } = require('@kafkajs/confluent-schema-registry');

const [cmd, boot, url, topic, n, arg] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'dc-test', brokers: boot.split(','), logLevel: logLevel.ERROR });
const registry = new SchemaRegistry({ host: url });

async function produce() {
  const schema = fs.readFileSync(arg, 'utf8');
  const { id } = await registry.register({ type: SchemaType.AVRO, schema },
    { subject: `${topic}-value` });
  const messages = [];
  for (let i = 0; i < Number(n); i++) {
    const value = await registry.encode(id, {
      device_id: `js-${String(i).padStart(4, '0')}`,
      device_name: i % 2 ? `node ${i}` : null,
      timestamp: 1700000500000 + i * 1000,
      temperature: 15.25 + i,
      humidity: 30.5,
      location: null,
      battery_level: 75.5,
    });
    messages.push({ key: `k${i}`, value });
  }
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages });
  await producer.disconnect();
  console.log(JSON.stringify({ id }));
}

async function consume() {
  const consumer = kafka.consumer({ groupId: arg, sessionTimeout: 6000 });
  const out = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done;
  const finished = new Promise((resolve) => { done = resolve; });
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ message }) => {
      const v = await registry.decode(message.value);
      out.push(v);
      if (out.length >= Number(n)) done();
    },
  });
  await Promise.race([finished, new Promise((r) => setTimeout(r, 40000))]);
  await consumer.disconnect();
  out.sort((a, b) => (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0));
  for (const v of out) console.log(JSON.stringify(v));
  process.exitCode = out.length === Number(n) ? 0 : 1;
}

(cmd === 'produce' ? produce() : consume()).catch((e) => {
  console.error(e);
  process.exit(2);
});
