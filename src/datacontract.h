/*-------------------------------------------------------------------------
 *
 * datacontract.h
 *	  Shared definitions: the SQLSTATEs that carry Confluent error codes,
 *	  and the GUCs every module may read.
 *
 * A Confluent error code 4XXYY maps to SQLSTATE "DXXYY" and 5XXYY to
 * "EXXYY" (40401 -> D0401, 42201 -> D2201, 50001 -> E0001).  The code is
 * also the DETAIL line, "Confluent error code N.", so a client can recover
 * it either way.  The incompatible-schema error
 * (409 in Confluent 7.x, 40901 in 8.x) is D0901.
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_H
#define DATACONTRACT_H

#include "postgres.h"
#include "utils/elog.h"

#define DC_SQLSTATE(c1, c2, c3, c4, c5) MAKE_SQLSTATE(c1, c2, c3, c4, c5)

#define ERRCODE_DC_SUBJECT_NOT_FOUND			DC_SQLSTATE('D','0','4','0','1')	/* 40401 */
#define ERRCODE_DC_VERSION_NOT_FOUND			DC_SQLSTATE('D','0','4','0','2')	/* 40402 */
#define ERRCODE_DC_SCHEMA_NOT_FOUND				DC_SQLSTATE('D','0','4','0','3')	/* 40403 */
#define ERRCODE_DC_SUBJECT_SOFT_DELETED			DC_SQLSTATE('D','0','4','0','4')	/* 40404 */
#define ERRCODE_DC_SUBJECT_NOT_SOFT_DELETED		DC_SQLSTATE('D','0','4','0','5')	/* 40405 */
#define ERRCODE_DC_VERSION_SOFT_DELETED			DC_SQLSTATE('D','0','4','0','6')	/* 40406 */
#define ERRCODE_DC_VERSION_NOT_SOFT_DELETED		DC_SQLSTATE('D','0','4','0','7')	/* 40407 */
#define ERRCODE_DC_SUBJECT_LEVEL_COMPAT_NOT_CONFIGURED DC_SQLSTATE('D','0','4','0','8')	/* 40408 */
#define ERRCODE_DC_SUBJECT_LEVEL_MODE_NOT_CONFIGURED DC_SQLSTATE('D','0','4','0','9')	/* 40409 */
#define ERRCODE_DC_INCOMPATIBLE_SCHEMA			DC_SQLSTATE('D','0','9','0','1')	/* 409 / 40901 */
#define ERRCODE_DC_INVALID_SCHEMA				DC_SQLSTATE('D','2','2','0','1')	/* 42201 */
#define ERRCODE_DC_INVALID_VERSION				DC_SQLSTATE('D','2','2','0','2')	/* 42202 */
#define ERRCODE_DC_INVALID_COMPATIBILITY_LEVEL	DC_SQLSTATE('D','2','2','0','3')	/* 42203 */
#define ERRCODE_DC_INVALID_MODE					DC_SQLSTATE('D','2','2','0','4')	/* 42204 */
#define ERRCODE_DC_OPERATION_NOT_PERMITTED		DC_SQLSTATE('D','2','2','0','5')	/* 42205 */
#define ERRCODE_DC_REFERENCE_EXISTS				DC_SQLSTATE('D','2','2','0','6')	/* 42206 */
#define ERRCODE_DC_INVALID_SUBJECT				DC_SQLSTATE('D','2','2','0','8')	/* 42208 */
#define ERRCODE_DC_SCHEMA_TOO_LARGE				DC_SQLSTATE('D','2','2','0','9')	/* 42209 */
#define ERRCODE_DC_INVALID_RULESET				DC_SQLSTATE('D','2','2','1','0')	/* 42210 */
#define ERRCODE_DC_STORE_ERROR					DC_SQLSTATE('E','0','0','0','1')	/* 50001 */

/*
 * errdetail_dc(code): the DETAIL line "Confluent error code N." that every
 * registry error carries; further explanation goes into errhint.
 */
#define errdetail_dc(code) errdetail("Confluent error code %d.", (code))

/* GUCs (defined in datacontract.c) */
extern int	datacontract_max_schema_size;
extern int	datacontract_max_schema_depth;
extern char *datacontract_database;	/* where the background workers connect */

#endif							/* DATACONTRACT_H */
