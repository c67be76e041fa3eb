-- The CEL interpreter (src/rules_cel*.c): literals, selection, operators,
-- CEL's error absorption, macros, conversions, time, guards, errors, bounds.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS datacontract;
RESET client_min_messages;

-- The seed's examples (Confluent data contracts documentation)
SELECT datacontract.cel_eval('size(message.ssn) == 9', '{"ssn": "123456789"}');
SELECT datacontract.cel_eval('size(message.ssn) == 9', '{"ssn": "12345"}');
SELECT datacontract.cel_eval('size(message.f1) < 10', '{"f1": "success"}');
SELECT datacontract.cel_eval('size(message.f1) < 10', '{"f1": "this will fail"}');
SELECT datacontract.cel_eval_vars($$name == 'occupation' ; value == '' ? 'unspecified' : value$$,
	'{"name": "occupation", "value": "", "typeName": "STRING", "fullName": "com.acme.Person.occupation", "tags": [], "message": {}}');
SELECT datacontract.cel_eval_vars($$name == 'occupation' ; value == '' ? 'unspecified' : value$$,
	'{"name": "occupation", "value": "pilot"}');
-- the guard is false: the rule does not apply (NULL)
SELECT datacontract.cel_eval_vars($$name == 'occupation' ; value == '' ? 'unspecified' : value$$,
	'{"name": "email", "value": ""}') IS NULL AS skipped;
SELECT datacontract.cel_eval_vars($$typeName == 'STRING' ; value == '' ? 'unspecified' : value$$,
	'{"typeName": "STRING", "value": ""}');
SELECT datacontract.cel_eval_vars($$typeName == 'STRING' ; value == '' ? 'unspecified' : value$$,
	'{"typeName": "INT", "value": 0}') IS NULL AS skipped;
-- a guard error counts as false; an empty guard is no guard
SELECT datacontract.cel_eval('message.nope == 1 ; true', '{}') IS NULL AS skipped;
SELECT datacontract.cel_eval(' ; 1 + 1', '{}');
-- the separator is the first ';' outside string literals
SELECT datacontract.cel_eval($$'a;b' == message.s ; 'yes'$$, '{"s": "a;b"}');

-- Literals
SELECT datacontract.cel_eval('[1, -2, 3u, 1.5, -0.25, 1e3, .5, 0x1F, "s", ''t'', true, false, null]', 'null');
SELECT datacontract.cel_eval('{"a": 1, 2: "two", true: [], "m": {"n": null}}', 'null');
SELECT datacontract.cel_eval($$b'abc' == bytes('abc')$$, 'null');
SELECT datacontract.cel_eval($$b'\x00\xff'$$, 'null');
SELECT datacontract.cel_eval($$"\u00e9\t\x41\101\"" + r'\n' + '''a'b'''$$, 'null');
SELECT datacontract.cel_eval('-9223372036854775808', 'null');
SELECT datacontract.cel_eval('18446744073709551615u', 'null');

-- JSON numbers: integral -> int, otherwise double
SELECT datacontract.cel_eval('type(message.a) == int && type(message.b) == double && type(message.c) == int', '{"a": 5, "b": 2.5, "c": 3.0}');
SELECT datacontract.cel_eval('type(message.big)', '{"big": 1e30}');
SELECT datacontract.cel_eval('message.a + 1', '{"a": 9223372036854775806}');

-- Field selection and indexing
SELECT datacontract.cel_eval('message.customer.address.city', '{"customer": {"address": {"city": "Paris"}}}');
SELECT datacontract.cel_eval('message.items[1].sku', '{"items": [{"sku": "a"}, {"sku": "b"}]}');
SELECT datacontract.cel_eval('message["odd key"]', '{"odd key": 7}');
SELECT datacontract.cel_eval('[1, 2, 3][2u]', 'null');
SELECT datacontract.cel_eval('has(message.a) && !has(message.b)', '{"a": null}');
SELECT datacontract.cel_eval('message.a.b', '{"a": null}');
SELECT datacontract.cel_eval('message.missing', '{"a": 1}');
SELECT datacontract.cel_eval('message.items[5]', '{"items": [1]}');

-- Arithmetic and overflow
SELECT datacontract.cel_eval('7 / 2 + 7 % 2 * 10 - -1', 'null');
SELECT datacontract.cel_eval('7.0 / 2.0', 'null');
SELECT datacontract.cel_eval('10u / 3u', 'null');
SELECT datacontract.cel_eval('1.0 / 0.0', 'null');
SELECT datacontract.cel_eval('9223372036854775807 + 1', 'null');
SELECT datacontract.cel_eval('-9223372036854775808 / -1', 'null');
SELECT datacontract.cel_eval('0u - 1u', 'null');
SELECT datacontract.cel_eval('1 / 0', 'null');
SELECT datacontract.cel_eval('1 % 0', 'null');
SELECT datacontract.cel_eval('1 + 1.0', 'null');
SELECT datacontract.cel_eval('"ab" + "cd" + string(1)', 'null');
SELECT datacontract.cel_eval('[1] + [2, 3]', 'null');

-- Comparison (int, uint and double compare with each other)
SELECT datacontract.cel_eval('[1 == 1.0, 1u == 1, 2 < 2.5, -1 < 0u, "a" < "b", b"a" < b"b", false < true, 1 != 2, [1, [2]] == [1, [2]], {"a": 1} == {"a": 1.0}]', 'null');
SELECT datacontract.cel_eval('1 == "1"', 'null');
SELECT datacontract.cel_eval('1 < "1"', 'null');
SELECT datacontract.cel_eval('message.price > 10 && message.price <= 20.5', '{"price": 19.99}');

-- Logic, with CEL's commutative error absorption
SELECT datacontract.cel_eval('false && (1/0 == 1)', 'null');
SELECT datacontract.cel_eval('(1/0 == 1) && false', 'null');
SELECT datacontract.cel_eval('true || (1/0 == 1)', 'null');
SELECT datacontract.cel_eval('(1/0 == 1) || true', 'null');
SELECT datacontract.cel_eval('message.missing == 1 || message.ok', '{"ok": true}');
SELECT datacontract.cel_eval('(1/0 == 1) || false', 'null');
SELECT datacontract.cel_eval('true && (1/0 == 1)', 'null');
SELECT datacontract.cel_eval('!true || !(1 > 2)', 'null');
SELECT datacontract.cel_eval('1 || true', 'null');
SELECT datacontract.cel_eval('true ? 1 : 1/0', 'null');
SELECT datacontract.cel_eval('message.n > 5 ? "big" : "small"', '{"n": 3}');
SELECT datacontract.cel_eval('1 ? 2 : 3', 'null');

-- in, size, string functions
SELECT datacontract.cel_eval('[2 in [1, 2], "a" in {"a": 1}, 3 in [1, 2], 2.0 in [1, 2]]', 'null');
SELECT datacontract.cel_eval('[size("héllo"), size(b"ab"), size([1, 2, 3]), size({"a": 1}), "abc".size()]', 'null');
SELECT datacontract.cel_eval($$['hello'.contains('ell'), 'hello'.startsWith('he'), 'hello'.endsWith('lo'), 'hello'.startsWith('lo')]$$, 'null');
SELECT datacontract.cel_eval($$['555-1234'.matches('^[0-9]{3}-[0-9]{4}$'), matches('abc', 'b'), 'ABC'.matches('^[a-z]+$'), 'x_1'.matches('^\\w+$')]$$, 'null');
SELECT datacontract.cel_eval($$message.email.matches('^[^@]+@[^@]+\\.[a-z]+$')$$, '{"email": "a@b.org"}');
SELECT datacontract.cel_eval($$'a'.matches('(')$$, 'null');
SELECT datacontract.cel_eval($$'MiXeD'.lowerAscii() + 'MiXeD'.upperAscii()$$, 'null');

-- Conversions
SELECT datacontract.cel_eval('[int("42"), int(3.9), int(-3.9), int(7u), uint(7), uint("8"), double(1), double("2.5"), double(3u)]', 'null');
SELECT datacontract.cel_eval('[string(1), string(2u), string(1.5), string(true), string(b"hi"), bool("true"), bytes("é")]', 'null');
SELECT datacontract.cel_eval('int("12x")', 'null');
SELECT datacontract.cel_eval('int(1e19)', 'null');
SELECT datacontract.cel_eval('uint(-1)', 'null');
SELECT datacontract.cel_eval('string(b"\xff")', 'null');
SELECT datacontract.cel_eval('[type(1), type(1u), type(1.0), type("s"), type(null), type([]), type({}), type(type(1))]', 'null');
SELECT datacontract.cel_eval('dyn(1) == 1', 'null');

-- Timestamps and durations
SELECT datacontract.cel_eval($$timestamp('2023-01-01T00:00:00Z') + duration('1h30m')$$, 'null');
SELECT datacontract.cel_eval($$timestamp('2023-01-01T10:00:00.250+02:00')$$, 'null');
SELECT datacontract.cel_eval($$timestamp('2023-03-01T00:00:00Z') - timestamp('2023-02-01T00:00:00Z')$$, 'null');
SELECT datacontract.cel_eval($$[duration('1.5s'), duration('-1.5s'), duration('100ms') + duration('2us'), duration('1h') - duration('61m'), -duration('1s')]$$, 'null');
SELECT datacontract.cel_eval($$timestamp(message.ts) < timestamp('2024-01-01T00:00:00Z')$$, '{"ts": "2023-06-15T08:00:00Z"}');
SELECT datacontract.cel_eval($$duration('90m') > duration('1h') && duration('1m') == duration('60s')$$, 'null');
SELECT datacontract.cel_eval($$timestamp('2023-01-01T00:00:00Z') - duration('24h') == timestamp('2022-12-31T00:00:00Z')$$, 'null');
SELECT datacontract.cel_eval($$[int(timestamp('1970-01-02T00:00:00Z')), int(timestamp(86400)), string(timestamp(0))]$$, 'null');
SELECT datacontract.cel_eval(replace($$[t.getFullYear(), t.getMonth(), t.getDate(), t.getDayOfMonth(), t.getDayOfWeek(), t.getDayOfYear(), t.getHours(), t.getMinutes(), t.getSeconds(), t.getMilliseconds(), t.getHours('+05:30'), t.getDate('-12:00')]$$, 't.', 'timestamp("2024-03-05T06:07:08.009Z").'), 'null');
SELECT datacontract.cel_eval($$[duration('3h25m').getHours(), duration('3h25m').getMinutes(), duration('1.5s').getMilliseconds()]$$, 'null');
SELECT datacontract.cel_eval($$timestamp('2023-02-30T00:00:00Z')$$, 'null');
SELECT datacontract.cel_eval($$timestamp('9999-12-31T23:59:59Z') + duration('1s')$$, 'null');
SELECT datacontract.cel_eval($$duration('1x')$$, 'null');
SELECT datacontract.cel_eval($$timestamp('2023-01-01T00:00:00Z').getHours('America/New_York')$$, 'null');

-- Macros
SELECT datacontract.cel_eval('message.items.all(i, i.qty > 0)', '{"items": [{"qty": 1}, {"qty": 2}]}');
SELECT datacontract.cel_eval('message.items.exists(i, i.qty > 1)', '{"items": [{"qty": 1}, {"qty": 2}]}');
SELECT datacontract.cel_eval('message.items.exists_one(i, i.qty > 0)', '{"items": [{"qty": 1}, {"qty": 2}]}');
SELECT datacontract.cel_eval('message.items.map(i, i.qty * 10)', '{"items": [{"qty": 1}, {"qty": 2}]}');
SELECT datacontract.cel_eval('[1, 2, 3, 4].map(x, x % 2 == 0, x * x)', 'null');
SELECT datacontract.cel_eval('[1, 2, 3, 4].filter(x, x > 2)', 'null');
SELECT datacontract.cel_eval('{"a": 1, "b": 2}.all(k, k in ["a", "b"])', 'null');
SELECT datacontract.cel_eval('[[1, 2], [3]].map(l, l.map(x, x + 1))', 'null');
SELECT datacontract.cel_eval('[].all(x, x > 0) && ![].exists(x, true)', 'null');
-- all/exists absorb errors like && and ||
SELECT datacontract.cel_eval('[0, 1].all(x, 1 / x > 1)', 'null');
SELECT datacontract.cel_eval('[0, 1].exists(x, 1 / x == 1)', 'null');
SELECT datacontract.cel_eval('[0, 1].all(x, 1 / x == 1)', 'null');
SELECT datacontract.cel_eval('[0, 1].exists_one(x, 1 / x == 1)', 'null');
SELECT datacontract.cel_eval('x', 'null');

-- Compile errors: SQLSTATE 42601 with the position
\set VERBOSITY default
SELECT datacontract.cel_eval('1 +', 'null');
SELECT datacontract.cel_eval('size(message.ssn == 9', 'null');
SELECT datacontract.cel_eval('message.ssn.frobnicate()', 'null');
SELECT datacontract.cel_check('size(message.ssn) == 9');
SELECT datacontract.cel_check($$name == 'occupation' ; value == '' ? 'unspecified' : value$$);
SELECT datacontract.cel_check('a ; b ; c');
SELECT datacontract.cel_check('"unterminated');
SELECT datacontract.cel_check('"é" + 1 +* 2');
SELECT datacontract.cel_check('has(message)');
SELECT datacontract.cel_check('[1, 2].all(1, true)');
SELECT datacontract.cel_check('[1, 2].map(x)');
SELECT datacontract.cel_check('size(1, 2)');
SELECT datacontract.cel_check('if');
SELECT datacontract.cel_check('Msg{a: 1}');
SELECT datacontract.cel_check('9223372036854775808');
SELECT datacontract.cel_check($$'\q'$$);
SELECT datacontract.cel_check('1 # 2');
SELECT datacontract.cel_check('') IS NOT NULL AS empty_rejected;
-- runtime errors carry a data-exception SQLSTATE
DO $$
BEGIN
	PERFORM datacontract.cel_eval('1 / 0', 'null');
EXCEPTION WHEN division_by_zero THEN RAISE NOTICE 'division_by_zero: %', SQLERRM;
END $$;
DO $$
BEGIN
	PERFORM datacontract.cel_eval('9223372036854775807 * 2', 'null');
EXCEPTION WHEN numeric_value_out_of_range THEN RAISE NOTICE 'numeric_value_out_of_range: %', SQLERRM;
END $$;
DO $$
BEGIN
	PERFORM datacontract.cel_eval('message.ssn', '{}');
EXCEPTION WHEN data_exception THEN RAISE NOTICE 'data_exception: %', SQLERRM;
END $$;
DO $$
BEGIN
	PERFORM datacontract.cel_eval('1 +', 'null');
EXCEPTION WHEN syntax_error THEN RAISE NOTICE 'syntax_error: %', SQLERRM;
END $$;
DO $$
BEGIN
	PERFORM datacontract.cel_eval('[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, [0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, [0,1,2,3,4,5,6,7,8,9].map(f, a))))))', 'null');
EXCEPTION WHEN program_limit_exceeded THEN RAISE NOTICE 'program_limit_exceeded: %', SQLERRM;
END $$;
SELECT datacontract.cel_eval_vars('1', '[1]');

-- Bounds: depth at compile time, steps at run time; never a hang
SELECT datacontract.cel_check(repeat('(', 300) || '1' || repeat(')', 300));
SELECT datacontract.cel_check(repeat('1 + ', 250) || '1');
SELECT datacontract.cel_check(repeat('1 + ', 150) || '1');
SELECT datacontract.cel_check(repeat('x', 70000));
SELECT datacontract.cel_eval('[0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, [0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, [0,1,2,3,4,5,6,7,8,9].map(f, a))))))', 'null');
SELECT datacontract.cel_eval($$[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(a, [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20].map(b, message.s + message.s + message.s + message.s))$$,
	jsonb_build_object('s', repeat('x', 20000)));
SELECT datacontract.cel_eval('[1, 2].exists(x, [0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, [0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, [0,1,2,3,4,5,6,7,8,9].map(f, a)))))) == [] || true)', 'null');

-- A compiled program is reused across the rows of a query
SELECT m->>'ssn' AS ssn, datacontract.cel_eval('size(message.ssn) == 9', m) AS ok
  FROM (VALUES ('{"ssn": "123456789"}'::jsonb), ('{"ssn": "1234"}'), ('{"ssn": "987654321"}')) AS t(m);
