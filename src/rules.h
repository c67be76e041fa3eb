/*-------------------------------------------------------------------------
 *
 * rules.h
 *	  Running a data contract's rules (Confluent's rule execution, §4.9 of
 *	  the reference): domain rules on WRITE and READ, migration rules on
 *	  UPGRADE and DOWNGRADE between versions of a subject, with CEL,
 *	  CEL_FIELD and JSONATA executors and the ERROR, DLQ and NONE actions.
 *
 * Rule sets are stored per schema id (datacontract.schemas.rule_set) and
 * are immutable per id, so each id's rules are compiled once per backend
 * and cached (flushed like the codec's caches when datacontract.schemas is
 * dropped).  Messages are jsonb in the codec's default (natural) form.
 *
 * The functions here never raise for a rule failure: they report it in a
 * RuleOutcome, so the SQL functions raise "Rule failed: <name>" and the
 * Kafka worker routes ERROR and DLQ to its dead letters.  They do raise
 * for infrastructure errors (unknown schema id, SPI failure).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_RULES_H
#define DATACONTRACT_RULES_H

#include "postgres.h"

#include "utils/jsonb.h"

typedef enum RuleMode
{
	RULE_WRITE,
	RULE_READ,
	RULE_UPGRADE,
	RULE_DOWNGRADE
} RuleMode;

/*
 * What stopped a run: the rule, the action that applies ("ERROR", "DLQ",
 * or a custom action name, which behaves as ERROR), and why (a condition
 * was false, a transform returned null, an evaluation error, no executor).
 * failed is false when every rule passed or its action was NONE.
 */
typedef struct RuleOutcome
{
	bool		failed;
	const char *rule_name;
	const char *action;
	RuleMode	mode;
	char	   *reason;
} RuleOutcome;

/* "WRITE", "READ", "UPGRADE", "DOWNGRADE" */
extern const char *RuleModeName(RuleMode mode);

/*
 * Run the rules of schema id in mode on *msg: domainRules for WRITE and
 * READ (READ in reverse order), the migrationRules of that id for UPGRADE
 * and DOWNGRADE (DOWNGRADE reversed).  Transforms replace *msg (palloc'd
 * in the current context).  Returns false with *outcome filled when a
 * rule's action is ERROR, DLQ or a custom one; true otherwise.
 */
extern bool RulesApply(int32 schema_id, RuleMode mode, Jsonb **msg,
					   RuleOutcome *outcome);

/*
 * Migrate *msg from one version of subject to another: UPGRADE applies the
 * migrationRules of versions from+1 .. to in ascending order, DOWNGRADE
 * those of versions from .. to+1 in descending order (each version's rules
 * reversed).  Soft-deleted versions take part; missing versions are
 * skipped.  ereports 40401/40402 when the subject or either end version
 * does not exist.
 */
extern bool RulesMigrate(const char *subject, int32 from_version,
						 int32 to_version, Jsonb **msg, RuleOutcome *outcome);

/* Whether schema id has any rule that can run (enabled, enableAt not NONE). */
extern bool RulesExist(int32 schema_id);

/* Whether schema id has a rule that runs in mode (the hot-path check). */
extern bool RulesExistForMode(int32 schema_id, RuleMode mode);

/*
 * Reading data written with writer_id as reader_id (-1: the writer's own
 * schema): whether migrations apply and whether READ rules run.  Planned
 * once per (writer, reader) pair per transaction (the migration path
 * depends on the subject's versions); the plan's memory belongs to the
 * rules cache and stays valid until the end of the transaction.
 *
 * migrate: decode with the writer's schema, then RulesApplyReadPlan, then
 * conform the result to the reader's schema.  Otherwise decode with the
 * (writer, reader) resolution plan and run RulesApplyReadPlan when
 * read_rules.  A pair of ids is migrated when both are versions of one
 * subject (the first such subject in byte order; the newest version of
 * each id in it) and some version between them has migration rules for
 * the direction.
 */
typedef struct RulesReadPlan
{
	bool		migrate;
	bool		read_rules;
	bool		active;			/* migrate || read_rules */
	int32		writer_id;
	int32		reader_id;		/* -1: the writer's */
	int32		target_id;		/* whose READ rules run */
	RuleMode	migration_mode; /* RULE_UPGRADE or RULE_DOWNGRADE */
	int			nsteps;			/* schema ids whose migration rules run */
	int32	   *steps;
	char	   *subject;
	int32		from_version;
	int32		to_version;
} RulesReadPlan;

extern const RulesReadPlan *RulesPlanRead(int32 writer_id, int32 reader_id);

/* Migrations (when plan->migrate) and then READ rules (when read_rules). */
extern bool RulesApplyReadPlan(const RulesReadPlan *plan, Jsonb **msg,
							   RuleOutcome *outcome);

/*
 * ereport(ERROR) for a failed outcome: "Rule failed: <name>", the reason
 * and the action in the detail (SQLSTATE 23514, check_violation).
 */
extern void RulesReportFailure(const RuleOutcome *outcome) pg_attribute_noreturn();

/*
 * For the Kafka worker (implemented in avro_codec.c): decode a
 * Confluent-framed message as reader_id (-1: the writer's), running
 * migrations and READ rules.  Returns NULL with *outcome filled when a
 * rule's action is ERROR or DLQ; ereports bad input.
 */
extern Jsonb *AvroDecodeFramedWithRules(const char *data, size_t len,
										int32 reader_id, RuleOutcome *outcome);

#endif							/* DATACONTRACT_RULES_H */
