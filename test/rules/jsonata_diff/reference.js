// Reference side of the JSONata differential test (npm jsonata).
//
//   node reference.js cases CASES_FILE SEED NRANDOM > cases.tsv
//       hand-written cases, then NRANDOM seeded-random ones, as
//       "key<TAB>expr<TAB>input" in COPY text format (input \N = undefined)
//   node reference.js eval < canonical.tsv > reference.tsv
//       evaluate "key<TAB>expr<TAB>input" lines; print "key<TAB>outcome"
//       where outcome is "V <json>", "U" (undefined) or "E <code>"
'use strict';
const fs = require('fs');
const jsonata = require('jsonata');

function copyEscape(s) {
	return s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}
function copyUnescape(s) {
	return s.replace(/\\(.)/g, (m, c) => ({ t: '\t', n: '\n', r: '\r', '\\': '\\' }[c] ?? c));
}

// ---- seeded random expressions over the supported subset ----
function mulberry32(a) {
	return function () {
		a |= 0; a = a + 0x6D2B79F5 | 0;
		let t = Math.imul(a ^ a >>> 15, 1 | a);
		t = t + Math.imul(t ^ t >>> 7, 61 | t) ^ t;
		return ((t ^ t >>> 14) >>> 0) / 4294967296;
	};
}
const randomInputs = {
	'@r1': '{"a":1,"b":[1,2,3],"c":{"a":2,"b":"x"},"name":"n","items":[{"a":1,"b":"p"},{"a":2,"b":"q"},{"a":3,"c":[1,2]}]}',
	'@r2': '[{"a":5,"b":[7]},{"a":-1,"c":{"a":0}},3,"s"]',
	'@r3': '{"a":"str","b":true,"c":null,"items":[],"x":1.5,"name":"Zoë"}',
};
function generator(seed) {
	const rnd = mulberry32(seed);
	const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
	const fields = ['a', 'b', 'c', 'x', 'name', 'items', 'missing'];
	function path(d) {
		let steps = [pick(fields)];
		const n = Math.floor(rnd() * 3);
		for (let i = 0; i < n; i++) steps.push(pick(fields));
		let s = steps.map((f) => {
			let r = rnd();
			if (r < 0.15) return f + '[' + pick(['0', '1', '-1', '5']) + ']';
			if (r < 0.25 && d > 0) return f + '[' + cmp(d - 1) + ']';
			if (r < 0.3) return f + '[]';
			return f;
		}).join('.');
		if (rnd() < 0.15) s = pick(['$', '$$']) + '.' + s;
		return s;
	}
	function lit() {
		return pick(['0', '1', '2', '-3', '1.5', '0.1', '"s"', '"abc"', '""', 'true', 'false', 'null', '[]', '{}', '[1,2]', '"a"']);
	}
	function cmp(d) {
		return expr(d) + ' ' + pick(['=', '!=', '<', '>', '<=', '>=', 'in']) + ' ' + expr(d);
	}
	function expr(d) {
		if (d <= 0) return rnd() < 0.5 ? path(0) : lit();
		const r = Math.floor(rnd() * 26);
		switch (r) {
			case 0: case 1: case 2: return path(d);
			case 3: return lit();
			case 4: return expr(d - 1) + ' ' + pick(['+', '-', '*', '/', '%']) + ' ' + expr(d - 1);
			case 5: return cmp(d - 1);
			case 6: return expr(d - 1) + ' ' + pick(['and', 'or']) + ' ' + expr(d - 1);
			case 7: return expr(d - 1) + ' & ' + expr(d - 1);
			case 8: return expr(d - 1) + ' ? ' + expr(d - 1) + ' : ' + expr(d - 1);
			case 9: return '[' + expr(d - 1) + ', ' + expr(d - 1) + ']';
			case 10: return '{"k": ' + expr(d - 1) + ', "m": ' + expr(d - 1) + '}';
			case 11: return '$' + pick(['count', 'sum', 'string', 'exists', 'keys', 'boolean', 'not', 'type', 'distinct', 'reverse', 'number', 'max']) + '(' + expr(d - 1) + ')';
			case 12: return '$' + pick(['length', 'uppercase', 'lowercase', 'trim']) + '($string(' + expr(d - 1) + '))';
			case 13: return '$substring($string(' + expr(d - 1) + '), ' + pick(['0', '1', '-2']) + ', ' + pick(['1', '3']) + ')';
			case 14: return '$map(' + expr(d - 1) + ', function($v, $i) {' + pick(['$v', '$i', '$v.a', '$string($v) & $i', '[$v]']) + '})';
			case 15: return '$filter(' + expr(d - 1) + ', function($v) {' + cmp(d - 1).replace(/^\S+/, '$v') + '})';
			case 16: return '$sift(' + pick(['$', 'c', 'items[0]', '$$']) + ', function($v, $k) {' + pick(['$k != "a"', '$type($v) = "number"', '$k in ["a","b"]', 'true']) + '})';
			case 17: return '$merge([' + pick(['$', 'c', '{"a":9}']) + ', {"' + pick(fields) + '": ' + expr(d - 1) + '}])';
			case 18: return '$lookup(' + expr(d - 1) + ', "' + pick(fields) + '")';
			case 19: return '($x := ' + expr(d - 1) + '; ' + expr(d - 1).replace(/^[a-z]+/, '$x') + ')';
			case 20: return path(d) + '.(' + expr(d - 1) + ')';
			case 21: return path(d) + '.{' + pick(['"k"', 'name', '$string(a)']) + ': ' + expr(d - 1) + '}';
			case 22: return '$join(' + pick(['["a","b"]', 'items.b', '[name]', '$keys($)']) + ', "' + pick(['', ',', '-']) + '")';
			case 23: return '-' + expr(d - 1);
			case 24: return '(' + expr(d - 1) + ')[' + pick(['0', '-1', '$ > 1', 'a']) + ']';
			default: return '$count(' + path(d) + ') + ' + expr(d - 1);
		}
	}
	return () => expr(1 + Math.floor(rnd() * 3));
}

function readCases(file) {
	const inputs = Object.assign({}, randomInputs);
	const out = [];
	for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
		if (line === '' || line.startsWith('#')) continue;
		if (line.startsWith('@')) {
			const sp = line.indexOf(' ');
			inputs[line.slice(0, sp)] = line.slice(sp + 1);
			continue;
		}
		const tab = line.indexOf('\t');
		if (tab < 0) throw new Error('no tab in case: ' + line);
		const expr = line.slice(0, tab), inp = line.slice(tab + 1);
		const json = inp === '' ? null : inp.startsWith('@') ? inputs[inp] : inp;
		if (json === undefined) throw new Error('unknown input ' + inp);
		out.push([expr, inp, json]);
	}
	return out;
}

async function main() {
	const mode = process.argv[2];
	if (mode === 'cases') {
		const cases = readCases(process.argv[3]);
		const gen = generator(parseInt(process.argv[4], 10));
		const n = parseInt(process.argv[5], 10);
		const names = Object.keys(randomInputs);
		for (let i = 0; i < n; i++) {
			const name = names[i % names.length];
			cases.push([gen(), name, randomInputs[name]]);
		}
		const seen = new Set();
		for (const [expr, inp, json] of cases) {
			const key = expr + ' \u00bb ' + (inp === '' ? '(undefined)' : inp);
			if (seen.has(key)) continue;
			seen.add(key);
			process.stdout.write([copyEscape(key), copyEscape(expr), json === null ? '\\N' : copyEscape(json)].join('\t') + '\n');
		}
		return;
	}
	if (mode === 'eval') {
		const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l !== '');
		for (const line of lines) {
			const [key, expr, input] = line.split('\t');
			const data = input === '\\N' ? undefined : JSON.parse(copyUnescape(input));
			let outcome;
			try {
				const result = await jsonata(copyUnescape(expr)).evaluate(data);
				// functions are undefined in JSON: null in arrays, left out of objects
				const json = JSON.stringify(result, (k, v) =>
					(typeof v === 'function' || (v && v._jsonata_lambda)) ? undefined : v);
				outcome = json === undefined ? 'U' : 'V ' + json;
			} catch (e) {
				const code = e && e.code ? String(e.code) : 'X';
				outcome = 'E ' + (code.startsWith('S') ? 'S' : code);
			}
			process.stdout.write(key + '\t' + copyEscape(outcome) + '\n');
		}
		return;
	}
	throw new Error('usage: reference.js cases FILE SEED N | eval');
}
main().catch((e) => { console.error(e); process.exit(1); });
