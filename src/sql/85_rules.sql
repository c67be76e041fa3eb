-- datacontract install script, part 85: running a contract's rules in the
-- database (src/rules_exec.c).  avro_encode runs the WRITE rules of the
-- version it encodes with; avro_decode and avro_populate_record run the
-- migrations between the writer's and the reader's versions and the READ
-- rules.  A failing rule whose action is ERROR or DLQ raises
-- "Rule failed: <name>" (SQLSTATE 23514) with the reason in the detail.

CREATE FUNCTION datacontract.run_rules(subject text, value jsonb, mode text DEFAULT 'WRITE',
									   version integer DEFAULT NULL)
RETURNS TABLE("position" integer, rule text, kind text, type text, mode text,
			  outcome text, action text, result jsonb, reason text)
	AS 'MODULE_PATHNAME', 'run_rules'
	LANGUAGE C STABLE CALLED ON NULL INPUT ROWS 10;
COMMENT ON FUNCTION datacontract.run_rules(text, jsonb, text, integer) IS
	'Run the rules of a subject version (default: latest) for a mode (WRITE, READ, UPGRADE, DOWNGRADE) on a value and report each rule''s outcome (passed, failed, skipped, not applicable), action, result and reason; never raises for rule failures';

CREATE FUNCTION datacontract.migrate(subject text, value jsonb, from_version integer,
									 to_version integer)
RETURNS jsonb
	AS 'MODULE_PATHNAME', 'rules_migrate'
	LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION datacontract.migrate(text, jsonb, integer, integer) IS
	'A value of one version of a subject migrated to another: UPGRADE runs the migration rules of versions from+1..to ascending, DOWNGRADE those of from..to+1 descending';

-- Registration (_validate_rule_set) checks rule expressions with this: NULL
-- when the expression of a CEL, CEL_FIELD or JSONATA rule compiles, else
-- the compiler's message with its position.
CREATE FUNCTION datacontract._rule_expr_error(type text, expr text, allow_guard boolean)
RETURNS text
	AS 'MODULE_PATHNAME', 'rule_expr_error'
	LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
