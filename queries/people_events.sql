-- name: people_events
-- description: The stored events (view events_stored) with identities resolved through the directory's aliases, limited to the report's scope and --site/--group (DESIGN §6 "Which timetable applies"); reports read it as `events`.
-- params:
--
-- Registered relations (surfaudit.org_sql): org_aliases(alias, identity) with
-- aliases lower-cased like stored identities; org_people(identity, grp, site, ...);
-- org_filter(staff_only, site, grp), one row. An identity without a directory row
-- is in a site when the request's client address is in that site's `clients`.
SELECT e.* REPLACE (coalesce(a.identity, e."user") AS "user")
FROM events_stored AS e
LEFT JOIN org_aliases AS a ON a.alias = e."user"
LEFT JOIN org_people AS p ON p.identity = coalesce(a.identity, e."user")
CROSS JOIN org_filter AS f
WHERE (NOT f.staff_only OR p.identity IS NOT NULL)
  AND (f.grp IS NULL OR p.grp = f.grp)
  AND (f.site IS NULL
       OR p.site = f.site
       OR (p.identity IS NULL AND surfaudit_site_of(e.client_ip) = f.site))
