-- name: social_piece_ctes
-- description: Included inside a WITH list (a fragment, not a query) by social_pieces and social: the CTEs down to `pieces`, social time per request, local date, period and timetable slot (DESIGN §6 "Social time").
-- params: $domains, $ignore_hosts, $idle_ms, $tail_ms, $user
--
-- The rows read are events_in_range's ($utc_from/$utc_to, $user: exact identity or
-- NULL for all); the local dates reported are local_days' ($date_from/$date_to, inclusive).
-- Times are compared in whole milliseconds (the log's precision).
-- The timetable of each identity and local date (DESIGN §6 "Which timetable applies")
-- comes from relations registered by surfaudit.org_sql:
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
    -- this pass reads only the dictionary-encoded host column
    SELECT host, rtrim(lower(host), '.') AS h
    FROM (
        SELECT DISTINCT e.host
        FROM (
            {{events_in_range}}
        ) AS e
        WHERE e.action = 'allowed'
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
),
ordered AS (
    -- In time order (t_ms never decreases with ts, so ts alone orders t_ms too).
    -- Requests at the same ts are ordered by host and url, so one identity's
    -- listing is deterministic. For all identities ($user NULL: the report)
    -- host and url are left out of the order: which of such requests gets the
    -- 0-second coverage changes no sum and no count per date, and the url
    -- column is then never read.
    SELECT *,
           row_number() OVER w AS req_id,
           lead(t_ms) OVER w AS next_ms
    FROM social
    WINDOW w AS (PARTITION BY "user" ORDER BY ts,
                 CASE WHEN $user::VARCHAR IS NOT NULL THEN h END,
                 CASE WHEN $user::VARCHAR IS NOT NULL THEN url END)
),
coverage AS (
    -- c(i) = gap to the next request when <= idle gap, else the tail (also for the last one)
    SELECT *,
           t_ms AS s_ms,
           t_ms + CASE WHEN next_ms IS NOT NULL AND next_ms - t_ms <= $idle_ms::BIGINT
                       THEN next_ms - t_ms ELSE $tail_ms::BIGINT END AS e_ms
    FROM ordered
),
{{timetable_ctes}},
slot_hours AS (
    -- each slot under every UTC hour its span touches (a few per date)
    SELECT k, d, period, start_ms, end_ms,
           least(start_ms, end_ms) // 3600000 AS first_hour,
           unnest(range(least(start_ms, end_ms) // 3600000,
                        greatest(start_ms, end_ms) // 3600000 + 1)) AS hour
    FROM slot
),
cov_hours AS (
    -- each coverage under every UTC hour it touches (nearly always one)
    SELECT *,
           unnest(range(s_ms // 3600000, (greatest(e_ms, s_ms + 1) - 1) // 3600000 + 1)) AS hour
    FROM coverage
),
candidates AS MATERIALIZED (
    -- every slot (of every timetable) the coverage overlaps; a zero-length
    -- coverage (two requests in the same millisecond) still yields a 0-second
    -- piece on its own date, so every request is listed. The equi-join on the
    -- hour only narrows the candidates; a pair meeting in several hours is kept
    -- in the first of them. Materialised so that the identity's timetable is
    -- joined afterwards on (user, date, timetable), never on the identity alone.
    SELECT c.req_id, c.ts, c."user", c.host, c.url, slot.k, slot.d AS date, slot.period,
           least(c.e_ms, slot.end_ms) - greatest(c.s_ms, slot.start_ms) AS ms,
           greatest(c.s_ms, slot.start_ms) AS piece_ms,
           slot.start_ms <= c.s_ms AS holds_start
    FROM cov_hours AS c
    JOIN slot_hours AS slot
      ON slot.hour = c.hour
     AND slot.start_ms < greatest(c.e_ms, c.s_ms + 1)
     AND slot.end_ms > c.s_ms
     AND c.hour = greatest(c.s_ms // 3600000, slot.first_hour)
),
user_days AS (
    SELECT u."user", days.d FROM (SELECT DISTINCT "user" FROM candidates) AS u CROSS JOIN days
),
who AS (
    -- the timetable k of each identity and local date (DESIGN §6)
    {{timetable_who}}
),
pieces AS (
    -- only the slots of the identity's own timetable on that date count
    SELECT p.* FROM candidates AS p
    JOIN who AS w ON w."user" = p."user" AND w.d = p.date AND w.k = p.k
)
