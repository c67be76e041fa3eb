-- datacontract install script, part 81: the JSONata interpreter that runs
-- JSONATA rules (migration rules such as renaming a field) on the JSON form
-- of messages.  Evaluation is bounded by datacontract.jsonata_timeout (ms)
-- and datacontract.jsonata_max_depth (nesting of evaluations).

CREATE FUNCTION datacontract.jsonata_eval(expr text, input jsonb)
	RETURNS jsonb
	AS 'MODULE_PATHNAME', 'jsonata_eval'
	LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.jsonata_eval(text, jsonb) IS
	'Evaluate a JSONata expression on input (NULL input is undefined); NULL when the result is undefined';

CREATE FUNCTION datacontract.jsonata_check(expr text)
	RETURNS text
	AS 'MODULE_PATHNAME', 'jsonata_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.jsonata_check(text) IS
	'NULL when expr is a valid JSONata expression, else the syntax error with its position';
