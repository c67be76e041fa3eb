-- datacontract install script, part 80: the CEL interpreter for data-quality
-- rules (src/rules_cel*.c).
--
-- An expression may have a guard, "guard ; body": the body runs only when
-- the guard is true (a guard error counts as false); otherwise the result
-- is NULL (the rule does not apply).  Compile errors raise 42601 with the
-- position; runtime errors raise a data exception (22xxx) with CEL's
-- message, or 54000 when the evaluation exceeds its step bound.

CREATE FUNCTION datacontract.cel_eval(expr text, message jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'cel_eval'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.cel_eval(text, jsonb) IS
	'Evaluate a CEL expression (optionally "guard ; expr") with the variable message; NULL when the guard is not true';

CREATE FUNCTION datacontract.cel_eval_vars(expr text, vars jsonb) RETURNS jsonb
	AS 'MODULE_PATHNAME', 'cel_eval_vars'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.cel_eval_vars(text, jsonb) IS
	'Evaluate a CEL expression with the variables of a JSON object (name -> value), e.g. CEL_FIELD''s value, name, typeName, fullName, tags, message';

CREATE FUNCTION datacontract.cel_check(expr text) RETURNS text
	AS 'MODULE_PATHNAME', 'cel_check'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION datacontract.cel_check(text) IS
	'NULL when a CEL expression (optionally "guard ; expr") compiles, else the error message with its position';
