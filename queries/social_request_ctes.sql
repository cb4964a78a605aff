-- name: social_request_ctes
-- description: Included inside a WITH list (a fragment, not a query) by social and social_pieces: the CTEs down to `social`, the allowed requests to social hosts that are not the identity's work (DESIGN §6 "Social time").
-- params: $domains, $ignore_hosts
--
-- The rows read are events_in_range's ($utc_from/$utc_to, $user: exact identity or
-- NULL for all). t_ms is the request's time in whole milliseconds (the log's precision).
-- The work hosts here, and the timetable of each identity and local date
-- (DESIGN §6 "Which timetable applies") in social_piece_ctes and its includers,
-- come from relations registered by surfaudit.org_sql:
--   org_timetables(schedule, workdays)   ISO day numbers (Mon=1); schedule '' = [schedule]
--   org_segments(schedule, start_min, end_min, period)   a workday 0..1440, classified
--   org_people(identity, grp, site, schedule, workdays)  the directory
--   org_groups(grp, schedule), org_sites(site, schedule), org_work_hosts(grp, h)
--   org_closed(d)                        closed days and bank holidays: non-workdays
--   org_client_events                    the stored events when some site has `clients`, else empty
--   surfaudit_site_of(ip)                the site whose `clients` hold an address
dom AS (
    SELECT rtrim(lower(d), '.') AS d FROM (SELECT unnest($domains::VARCHAR[]) AS d)
),
ign AS (
    SELECT rtrim(lower(x), '.') AS x FROM (SELECT unnest($ignore_hosts::VARCHAR[]) AS x)
),
hosts AS (
    -- classify each distinct host once (a few thousand), not every request:
    -- this pass reads only the dictionary-encoded host column (not action too:
    -- a host seen only in blocked requests costs one more row here, and
    -- `social` keeps the allowed requests; measured ~8 % off the report)
    SELECT host, rtrim(lower(host), '.') AS h
    FROM (
        SELECT DISTINCT e.host
        FROM (
            {{events_in_range}}
        ) AS e
    )
),
social_hosts AS (
    SELECT s.host, s.h FROM hosts AS s
    WHERE EXISTS (SELECT 1 FROM dom WHERE s.h = dom.d OR ends_with(s.h, '.' || dom.d))
      AND NOT EXISTS (SELECT 1 FROM ign WHERE s.h = ign.x)
),
exempt AS (
    -- (identity, host) pairs that are work, not social: a social host (or a
    -- sub-domain) in the work_hosts of the identity's directory group
    SELECT p.identity, s.host
    FROM org_people AS p
    JOIN org_work_hosts AS w ON w.grp = p.grp
    JOIN social_hosts AS s ON s.h = w.h OR ends_with(s.h, '.' || w.h)
),
social AS (
    -- only then read the allowed requests to those hosts (the join filters the scan)
    SELECT e.ts, e."user", e.host, e.url, s.h,
           CAST(round(epoch_us(e.ts) / 1000.0) AS BIGINT) AS t_ms
    FROM (
        {{events_in_range}}
    ) AS e
    JOIN social_hosts AS s ON e.host = s.host
    WHERE e.action = 'allowed'
      -- a host in the work_hosts of the identity's group is not social for it
      AND NOT EXISTS (SELECT 1 FROM exempt AS x WHERE x.identity = e."user" AND x.host = e.host)
)
