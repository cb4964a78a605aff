-- name: users
-- description: Identities seen (aliases resolved) and directory members, with name, group, site, first/last seen (local) and request counts (issue 13 point 5: `surfaudit users`).
-- params: $tz, $unknown, $site, $grp
--
-- Reads every stored event (view events_stored), not limited by the report scope:
-- this is where identities outside the directory are found (--unknown). An
-- identity without a directory row is placed at the site whose `clients` hold
-- the address of its latest request (surfaudit_site_of). Directory members
-- never seen have requests 0 and no first/last seen.
WITH
ev AS (
    SELECT coalesce(a.identity, e."user") AS identity, e.ts, e.client_ip
    FROM events_stored AS e
    LEFT JOIN org_aliases AS a ON a.alias = e."user"
    WHERE e."user" IS NOT NULL
),
seen AS (
    SELECT identity, min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS requests,
           arg_max(client_ip, ts) AS last_ip
    FROM ev
    GROUP BY identity
),
listed AS (
    SELECT coalesce(p.identity, s.identity) AS identity,
           p.name,
           p.grp AS "group",
           coalesce(p.site, CASE WHEN p.identity IS NULL THEN surfaudit_site_of(s.last_ip) END) AS site,
           strftime(timezone($tz, s.first_ts), '%Y-%m-%d %H:%M') AS first_seen,
           strftime(timezone($tz, s.last_ts), '%Y-%m-%d %H:%M') AS last_seen,
           CAST(coalesce(s.requests, 0) AS BIGINT) AS requests,
           p.identity IS NOT NULL AS in_directory
    FROM seen AS s
    FULL OUTER JOIN org_people AS p ON p.identity = s.identity
)
SELECT * FROM listed
WHERE (NOT $unknown::BOOLEAN OR NOT in_directory)
  AND ($site::VARCHAR IS NULL OR site = $site::VARCHAR)
  AND ($grp::VARCHAR IS NULL OR "group" = $grp::VARCHAR)
ORDER BY identity
