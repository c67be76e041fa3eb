-- datacontract install script, part 35: views for people at psql.

-- Every subject with its latest live version (deleted: every version soft-deleted).
CREATE VIEW datacontract.subject_latest AS
SELECT sv.subject,
	   count(*) FILTER (WHERE NOT sv.deleted) AS live_versions,
	   count(*) AS all_versions,
	   max(sv.version) FILTER (WHERE NOT sv.deleted) AS latest_version,
	   (array_agg(sv.schema_id ORDER BY sv.version DESC) FILTER (WHERE NOT sv.deleted))[1] AS latest_schema_id,
	   bool_and(sv.deleted) AS deleted,
	   coalesce(c.config ->> 'compatibilityLevel', 'BACKWARD (default)') AS compatibility,
	   m.mode
  FROM datacontract.subject_versions sv
  LEFT JOIN datacontract.config c ON c.subject = sv.subject
  LEFT JOIN datacontract.mode m ON m.subject = sv.subject
 GROUP BY sv.subject, c.config, m.mode;

-- Every version of every subject with its id, schema and contract parts.
CREATE VIEW datacontract.versions_all AS
SELECT sv.subject, sv.version, sv.schema_id AS id, sv.deleted, sv.registered_at,
	   s.schema_type, s.fingerprint, s.schema, s."references", s.metadata, s.rule_set,
	   s.metadata -> 'properties' AS properties
  FROM datacontract.subject_versions sv
  JOIN datacontract.schemas s ON s.id = sv.schema_id;
