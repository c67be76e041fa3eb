/*-------------------------------------------------------------------------
 *
 * contract.h
 *	  Data contracts: tags on schema fields (inline "confluent:tags" and
 *	  external metadata.tags path globs).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DATACONTRACT_CONTRACT_H
#define DATACONTRACT_CONTRACT_H

#include "postgres.h"

/*
 * Does a tag path glob match a field's full name?  Confluent's
 * WildcardMatcher: "?" is one character other than ".", "*" any run of
 * characters within one dot-separated element, "**" any run across
 * elements ("**.*" counts as "**"); every other character is literal and
 * the whole path must match.
 */
extern bool ContractGlobMatch(const char *pattern, int pattern_len,
							  const char *path, int path_len);

#endif							/* DATACONTRACT_CONTRACT_H */
