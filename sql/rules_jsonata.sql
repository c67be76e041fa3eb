-- The JSONata interpreter behind JSONATA rules (datacontract.jsonata_eval).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS datacontract;
RESET client_min_messages;
-- load the library (and its GUCs) before setting them
SELECT datacontract.jsonata_check('1') IS NULL AS compiles;
\pset null '(undefined)'

CREATE TEMP TABLE msg (name text, doc jsonb);
INSERT INTO msg VALUES
	('old', '{"ssn": "123-45-6789", "name": "Ann", "age": 42}'),
	('new', '{"socialSecurityNumber": "987-65-4321", "name": "Bob", "age": 7}'),
	('person', '{"name": "Ann", "age": 42, "nick": null, "address": {"city": "Oslo", "zip": "0150"},
	             "phones": [{"type": "home", "number": "1"}, {"type": "work", "number": "2"}],
	             "tags": ["a", "b", "c"], "scores": [3, 1, 4, 1, 5]}');

-- The seed's migration rules: UPGRADE renames ssn, DOWNGRADE renames it back.
SELECT name, datacontract.jsonata_eval(
	'$merge([$sift($, function($v, $k) {$k != ''ssn''}), {''socialSecurityNumber'': $.''ssn''}])', doc)
FROM msg WHERE name IN ('old', 'new') ORDER BY name;
SELECT name, datacontract.jsonata_eval(
	'$merge([$sift($, function($v, $k) {$k != ''socialSecurityNumber''}), {''ssn'': $.''socialSecurityNumber''}])', doc)
FROM msg WHERE name IN ('old', 'new') ORDER BY name;
-- the round trip gives back the original message
SELECT datacontract.jsonata_eval(
	'$merge([$sift($, function($v, $k) {$k != ''socialSecurityNumber''}), {''ssn'': $.''socialSecurityNumber''}])',
	datacontract.jsonata_eval(
		'$merge([$sift($, function($v, $k) {$k != ''ssn''}), {''socialSecurityNumber'': $.''ssn''}])', doc)) = doc
	AS round_trip
FROM msg WHERE name = 'old';

-- Path navigation: mapping over arrays, flattening, predicates, singletons.
SELECT e, datacontract.jsonata_eval(e, (SELECT doc FROM msg WHERE name = 'person'))
FROM unnest(ARRAY[
	'name', 'address.city', 'phones.number', 'phones[0].number', 'phones[-1].type',
	'phones[type=''work''].number', 'tags[1]', 'tags[[0,2]]', 'tags[$ != ''b'']', 'name[]',
	'phones[0][]', 'address.*', '**.zip', 'nothing', 'nothing.deeper', '`name`', '"name"',
	'$.''name''', '$$.address.city', 'address.($$.name & '' lives in '' & city)',
	'phones.(type & ''='' & number)', 'phones{type: number}', 'scores[$ > 2]', 'nick'
]) AS e;
SELECT datacontract.jsonata_eval('a.b', '{"a": [{"b": [1, 2]}, {"b": 3}]}') AS flattened,
	datacontract.jsonata_eval('a.b[0]', '{"a": [{"b": [1, 2]}, {"b": [3]}]}') AS per_item_index,
	datacontract.jsonata_eval('(a.b)[0]', '{"a": [{"b": [1, 2]}, {"b": [3]}]}') AS whole_index,
	datacontract.jsonata_eval('a', '[{"a": 1}, {"a": [2, 3]}]') AS mapped_input_array,
	datacontract.jsonata_eval('$[1]', '[1, 2, 3]') AS input_index;

-- Literals and constructors.
SELECT e, datacontract.jsonata_eval(e, NULL)
FROM unnest(ARRAY[
	'42', '-7.5', '1.5e3', '"tab\there \u00e9 \uD83D\uDE00"', '''single''', 'true', 'null',
	'[1, [2, 3], nothing]', '[1..4, 9]', '{"a": 1, "b": [true, null]}', '{"gone": nothing}', '[]', '{}'
]) AS e;

-- Operators.
SELECT e, datacontract.jsonata_eval(e, (SELECT doc FROM msg WHERE name = 'person'))
FROM unnest(ARRAY[
	'1 + 2 * 3', '(1 + 2) * 3', '7 / 2', '7 % 3', '0.1 + 0.2', '-age', 'age + nothing',
	'"a" & 1 & true & null', 'name & nothing', '1 = 1', '"a" != "b"', '[1,2] = [1,2]',
	'{"a":1} = {"a":1}', '"abc" < "abd"', 'age >= 42', 'nothing = nothing', 'nothing < 1',
	'age > 40 and nick = null', 'nothing or "x"', '"b" in tags', '3 in scores',
	'age > 18 ? "adult" : "child"', 'age < 18 ? "child"', 'nick ?: "anon"', 'nothing ?? "default"'
]) AS e;

-- Variables, blocks, lambdas, closures, recursion, ~>.
SELECT e, datacontract.jsonata_eval(e, (SELECT doc FROM msg WHERE name = 'person'))
FROM unnest(ARRAY[
	'($x := 5; $y := $x * 2; $x + $y)', '($x := 1; ($x := 2); $x)',
	'(function($x) {$x * 3})(4)', '($add := function($x) {function($y) {$x + $y}}; $add(2)(3))',
	'($fact := function($n) {$n <= 1 ? 1 : $n * $fact($n - 1)}; $fact(10))',
	'($f := function($a, $b) {$a & "/" & $b}; $f("only"))', '(λ($x) {$x + 1})(1)',
	'name ~> $substring(0, 2) ~> $uppercase()', '[1, 2, 3] ~> $map(function($v) {$v * 10}) ~> $sum()'
]) AS e;

-- Built-in functions.
SELECT e, datacontract.jsonata_eval(e, (SELECT doc FROM msg WHERE name = 'person'))
FROM unnest(ARRAY[
	'$keys(address)', '$keys({"only": 1})', '$keys(phones)', '$lookup(address, "city")',
	'$lookup(phones, "type")', '$exists(name)', '$exists(nothing)', '$exists(nick)',
	'$merge([{"a": 1}, {"b": 2}, {"a": 3}])', '$merge(address)', '$merge(nothing)',
	'$sift(address, function($v, $k) {$k = "zip"})', '$sift(address, function($v) {false})',
	'$string(42)', '$string(1/3)', '$string({"a": [1, "x", null]})', '$string(address, true)',
	'$string(nothing)', '$number("42.5")', '$number("0x1F")', '$number(true)',
	'$map(tags, $uppercase)', '$map(scores, function($v, $i) {$v * $i})',
	'$filter(scores, function($v) {$v > 2})', '$filter(phones, function($p) {$p.type = "home"}).number',
	'$count(tags)', '$count(name)', '$count(nothing)', '$length("héllo")', '$length(name)',
	'$substring("hello world", 6)', '$substring("hello world", -5, 2)', '$substring("héllo", 1, 3)',
	'$uppercase("héllo")', '$lowercase(name)', 'tags.$uppercase()', '$contains(name, "nn")',
	'$join(tags)', '$join(tags, ", ")', '$sum(scores)', '$sum([])', '$max(scores)', '$average(scores)',
	'$reduce(scores, function($a, $b) {$a + $b})', '$sort(scores)', '$reverse(tags)',
	'$distinct(scores)', '$append(tags, "d")', '$each(address, function($v, $k) {$k & "=" & $v})',
	'$type(address)', '$boolean([0, 1])', '$not(nothing)', '$round(2.5)', '$round(3.14159, 2)',
	'$split("a,b,c", ",")', '$trim("  a   b  ")', '$abs(-2)', '$floor(-1.5)', '$power(2, 10)', '$sqrt(16)'
]) AS e;

-- Syntax errors are 42601 with the position; jsonata_check returns the message.
SELECT e, datacontract.jsonata_check(e)
FROM unnest(ARRAY[
	'name', 'a +', '(a; b', '[1, 2', '{"a" 1}', '"open', '''bad \q''', '"\u12"', '`open',
	'/* open', 'a.1', '1 := 2', 'function(a) {1}', ')', 'a ~ b', '$contains(s, /re/)',
	'a^(b)', 'a@$x', '%.a', 'a | b | c |'
]) AS e;
\set VERBOSITY default
SELECT datacontract.jsonata_eval('phones[type = "x"', '{}');
SELECT datacontract.jsonata_eval(repeat('(', 10000) || '1' || repeat(')', 10000), NULL);

-- Runtime errors are data exceptions with the JSONata code and position.
\set VERBOSITY terse
SELECT datacontract.jsonata_eval('1 + "a"', NULL);
SELECT datacontract.jsonata_eval('"a" < 1', NULL);
SELECT datacontract.jsonata_eval('-"a"', NULL);
SELECT datacontract.jsonata_eval('$nothing(1)', NULL);
SELECT datacontract.jsonata_eval('uppercase("a")', NULL);
SELECT datacontract.jsonata_eval('$merge([1])', NULL);
SELECT datacontract.jsonata_eval('$sum(["a"])', NULL);
SELECT datacontract.jsonata_eval('$uppercase(1)', NULL);
SELECT datacontract.jsonata_eval('{1: 2}', NULL);
SELECT datacontract.jsonata_eval('$number("abc")', NULL);
SELECT datacontract.jsonata_eval('1 / 0', NULL);
SELECT datacontract.jsonata_eval('$error("rule says no")', NULL);
SELECT datacontract.jsonata_eval('[1..20000000]', NULL);
DO $$
BEGIN
	PERFORM datacontract.jsonata_eval('1 + "a"', NULL);
EXCEPTION WHEN data_exception THEN
	RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
END $$;

-- Bounds: recursion depth (max.depth) and wall-clock time (timeout.ms).
SHOW datacontract.jsonata_timeout;
SHOW datacontract.jsonata_max_depth;
SELECT datacontract.jsonata_eval('($f := function($n) {1 + $f($n)}; $f(1))', NULL);
SELECT datacontract.jsonata_eval('($f := function($n) {$f($n)}; $f(1))', NULL);
SET datacontract.jsonata_max_depth = 20;
SELECT datacontract.jsonata_eval('($fact := function($n) {$n <= 1 ? 1 : $n * $fact($n - 1)}; $fact(3))', NULL);
SELECT datacontract.jsonata_eval('($fact := function($n) {$n <= 1 ? 1 : $n * $fact($n - 1)}; $fact(30))', NULL);
RESET datacontract.jsonata_max_depth;
SET datacontract.jsonata_timeout = 100;
SELECT datacontract.jsonata_eval('$sum([1..5000].($sum([1..5000])))', NULL);
SET datacontract.jsonata_timeout = 0;
SET datacontract.jsonata_max_depth = 100000;
SET max_stack_depth = '512kB';
SELECT datacontract.jsonata_eval('($f := function($n) {1 + $f($n)}; $f(1))', NULL);
RESET max_stack_depth;
RESET datacontract.jsonata_max_depth;
RESET datacontract.jsonata_timeout;

-- Undefined input, and a program cached across rows.
SELECT datacontract.jsonata_eval('$', NULL) AS undefined_input,
	datacontract.jsonata_eval(NULL, '{}') AS null_expr,
	datacontract.jsonata_eval('$exists($)', NULL) AS exists_input;
SELECT name, datacontract.jsonata_eval('$count($keys($))', doc) FROM msg ORDER BY name;
