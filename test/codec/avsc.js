// Differential tests of the Avro codec against npm's avsc.
//
//   node avsc.js gen SCHEMAS.txt N SEED OUT.tsv
//       for each schema (one per line), N random values (avsc's Type.random),
//       encoded by avsc: lines "case<TAB>schema<TAB>hex"
//   node avsc.js check IN.tsv
//       lines "case<TAB>schema<TAB>ours<TAB>theirs": decode both with avsc and
//       compare the values; prints "ok bad"
'use strict';
const fs = require('fs');
const avro = require('avsc');

// A seeded PRNG so the data is the same on every run (avsc uses Math.random).
function seed(s) {
  let x = s >>> 0 || 1;
  Math.random = () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
}

// Values as comparable text: buffers as hex, NaN spelled out, map keys sorted.
function canon(v) {
  if (Buffer.isBuffer(v)) return 'x' + v.toString('hex');
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : String(Object.is(v, -0) ? '-0' : v);
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  if (v && typeof v === 'object') {
    return '{' + Object.keys(v).sort().map((k) => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
  }
  return JSON.stringify(v);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'gen') {
  const [schemasFile, n, s, out] = args;
  seed(Number(s));
  const lines = [];
  fs.readFileSync(schemasFile, 'utf8').split('\n').filter(Boolean).forEach((text, si) => {
    const type = avro.Type.forSchema(JSON.parse(text), { wrapUnions: true });
    for (let i = 0; i < Number(n); i++) {
      lines.push(`a${si}.${i}\t${text}\t${type.toBuffer(type.random()).toString('hex')}`);
    }
  });
  fs.writeFileSync(out, lines.join('\n') + '\n');
} else if (cmd === 'check') {
  let ok = 0;
  let bad = 0;
  fs.readFileSync(args[0], 'utf8').split('\n').filter(Boolean).forEach((line) => {
    const [c, text, ours, theirs] = line.split('\t');
    const type = avro.Type.forSchema(JSON.parse(text), { wrapUnions: true });
    let a;
    let b;
    try {
      a = canon(type.fromBuffer(Buffer.from(ours, 'hex')));
      b = canon(type.fromBuffer(Buffer.from(theirs, 'hex')));
    } catch (e) {
      a = String(e);
    }
    if (a === b) ok++;
    else {
      bad++;
      if (bad <= 5) console.log(`# avsc decodes our ${c} differently: ${a} vs ${b} (${text})`);
    }
  });
  console.log(`${ok} ${bad}`);
}
