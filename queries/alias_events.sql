-- name: alias_events
-- description: The stored events (view events_stored) with identities resolved through the directory's aliases, nothing hidden (scope "all", no --site/--group); reports read it as `events`. See people_events for the scoped form.
-- params:
--
-- org_aliases(alias, identity): aliases lower-cased like stored identities (surfaudit.org_sql).
SELECT e.* REPLACE (coalesce(a.identity, e."user") AS "user")
FROM events_stored AS e
LEFT JOIN org_aliases AS a ON a.alias = e."user"
