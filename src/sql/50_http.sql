-- datacontract install script, part 50: SQL the REST API needs beyond the
-- registry's own functions (part 30).  The HTTP workers call these through
-- SPI; they hold no registry logic of their own, only listings Confluent's
-- API has and the SQL API does not.

-- Every schema version as Confluent's Schema object (GET /schemas), ordered
-- by subject and version; latest_only keeps each subject's newest version.
-- "limit" NULL means all.
CREATE FUNCTION datacontract._http_list_schemas(subject_prefix text DEFAULT NULL,
												deleted boolean DEFAULT false,
												latest_only boolean DEFAULT false,
												"offset" integer DEFAULT 0,
												"limit" integer DEFAULT NULL)
RETURNS jsonb LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(t.j ORDER BY t.subject, t.version), '[]')
	  FROM (SELECT datacontract._schema_json(sv.subject, sv.version, s) AS j,
				   sv.subject, sv.version
			  FROM datacontract.subject_versions sv
			  JOIN datacontract.schemas s ON s.id = sv.schema_id
			 WHERE ($1 IS NULL OR starts_with(sv.subject, $1))
			   AND (NOT sv.deleted OR $2)
			   AND (NOT $3 OR sv.version = (SELECT max(v2.version)
											  FROM datacontract.subject_versions v2
											 WHERE v2.subject = sv.subject
											   AND (NOT v2.deleted OR $2)))
			 ORDER BY sv.subject, sv.version
			OFFSET coalesce($4, 0) LIMIT $5) t
$$;

-- The newest version of a subject whose metadata properties contain every
-- requested key/value pair (GET /subjects/{s}/metadata); keys and values
-- pair up by position, extras ignored.  With no pairs, the newest version
-- that has metadata at all.  40401 for an unknown subject, 40403 otherwise.
CREATE FUNCTION datacontract._http_latest_with_metadata(subject text, keys text[],
														vals text[], deleted boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- key and value query parameters pair up by position; extras are ignored
	n integer := least(coalesce(cardinality(keys), 0), coalesce(cardinality(vals), 0));
BEGIN
	RETURN datacontract.latest_with_metadata(subject,
		CASE WHEN n > 0 THEN jsonb_object(keys[1:n], vals[1:n]) ELSE '{}' END, deleted);
END
$$;

-- Readers may list; part 90 grants underscore functions to admins only.
GRANT EXECUTE ON FUNCTION
	datacontract._http_list_schemas(text, boolean, boolean, integer, integer),
	datacontract._http_latest_with_metadata(text, text[], text[], boolean)
	TO datacontract_reader;

------------------------------------------------------------------------------
-- Import from another Confluent-compatible registry
------------------------------------------------------------------------------

-- GET a URL (http or https): the status and the body.  Admins only (part 90
-- grants underscore functions to datacontract_admin alone).
CREATE FUNCTION datacontract._http_get(url text, userpwd text DEFAULT NULL,
									   OUT status integer, OUT body text)
RETURNS record LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'datacontract_http_get';

-- Percent-encode a path segment (RFC 3986 unreserved characters stay).
CREATE FUNCTION datacontract._http_urlencode(segment text)
RETURNS text LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(string_agg(CASE WHEN t.c ~ '^[A-Za-z0-9._~-]$' THEN t.c
		ELSE upper(regexp_replace(encode(convert_to(t.c, 'UTF8'), 'hex'), '(..)', '%\1', 'g')) END,
		'' ORDER BY t.i), '')
	  FROM regexp_split_to_table($1, '') WITH ORDINALITY AS t(c, i)
$$;

-- GET a registry resource as jsonb; NULL for a 404, an error otherwise.
CREATE FUNCTION datacontract._http_fetch(url text, userpwd text)
RETURNS jsonb LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
BEGIN
	SELECT * INTO r FROM datacontract._http_get(url, userpwd);
	IF r.status = 404 THEN
		RETURN NULL;
	ELSIF r.status <> 200 THEN
		RAISE EXCEPTION USING ERRCODE = 'connection_failure',
			MESSAGE = format('registry answered HTTP %s for %s', r.status, url),
			DETAIL = left(r.body, 1000);
	END IF;
	RETURN r.body::jsonb;
END
$$;

-- Copy a whole registry from a Confluent-compatible REST API at "url":
-- every subject's versions (soft-deleted ones too) with their ids and
-- version numbers, metadata, rule sets and references, the global and
-- subject configs and the subject modes.  Runs through IMPORT mode, so this
-- registry must have no live subjects; the global mode is restored after.
-- "userpwd" is "user:password" for HTTP Basic.  Returns counts.
CREATE FUNCTION datacontract.import_registry(url text, userpwd text DEFAULT NULL)
RETURNS jsonb LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	base text := rtrim(url, '/');
	old_mode text;
	subj text;
	path text;
	v integer;
	sv jsonb;
	live jsonb;
	cfg jsonb;
	m jsonb;
	modes jsonb := '{}';
	n_subjects integer := 0;
	n_versions integer := 0;
	n_deleted integer := 0;
BEGIN
	IF NOT pg_has_role(current_user, 'datacontract_admin', 'USAGE') THEN
		RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
			MESSAGE = 'permission denied for datacontract.import_registry',
			HINT = 'Importing a registry needs the datacontract_admin role.';
	END IF;
	old_mode := datacontract.get_mode(NULL);
	PERFORM datacontract.set_mode(NULL, 'IMPORT', false);

	FOR subj IN SELECT jsonb_array_elements_text(
			coalesce(datacontract._http_fetch(base || '/subjects?deleted=true', userpwd), '[]'))
	LOOP
		path := base || '/subjects/' || datacontract._http_urlencode(subj);
		n_subjects := n_subjects + 1;
		FOR v IN SELECT (jsonb_array_elements_text(
				coalesce(datacontract._http_fetch(path || '/versions?deleted=true', userpwd), '[]')))::integer
		LOOP
			sv := datacontract._http_fetch(path || '/versions/' || v || '?deleted=true', userpwd);
			CONTINUE WHEN sv IS NULL;
			PERFORM datacontract.register_schema(subj, jsonb_strip_nulls(jsonb_build_object(
				'schema', sv ->> 'schema', 'schemaType', sv ->> 'schemaType',
				'references', sv -> 'references', 'metadata', sv -> 'metadata',
				'ruleSet', sv -> 'ruleSet', 'version', v, 'id', (sv ->> 'id')::integer)));
			n_versions := n_versions + 1;
		END LOOP;
		-- Versions the source lists only with deleted=true were soft-deleted.
		live := coalesce(datacontract._http_fetch(path || '/versions', userpwd), '[]');
		FOR v IN SELECT sv2.version FROM datacontract.subject_versions sv2
				  WHERE sv2.subject = subj AND NOT sv2.deleted
					AND NOT live @> to_jsonb(sv2.version)
		LOOP
			PERFORM datacontract.delete_version(subj, v::text, false);
			n_deleted := n_deleted + 1;
		END LOOP;
		cfg := datacontract._http_fetch(base || '/config/' || datacontract._http_urlencode(subj), userpwd);
		IF cfg IS NOT NULL THEN
			PERFORM datacontract.set_config(subj, cfg);
		END IF;
		m := datacontract._http_fetch(base || '/mode/' || datacontract._http_urlencode(subj), userpwd);
		IF m IS NOT NULL AND m ->> 'mode' IS NOT NULL THEN
			modes := modes || jsonb_build_object(subj, m ->> 'mode');
		END IF;
	END LOOP;

	cfg := datacontract._http_fetch(base || '/config', userpwd);
	IF cfg IS NOT NULL THEN
		PERFORM datacontract.set_config(NULL, cfg);
	END IF;
	PERFORM datacontract.set_mode(NULL, old_mode, true);
	FOR subj IN SELECT jsonb_object_keys(modes) LOOP
		PERFORM datacontract.set_mode(subj, modes ->> subj, true);
	END LOOP;
	RETURN jsonb_build_object('subjects', n_subjects, 'versions', n_versions,
							  'soft_deleted', n_deleted, 'subject_modes', (SELECT count(*) FROM jsonb_object_keys(modes)));
END
$$;
