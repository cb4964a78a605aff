-- name: social_segments
-- description: Social time per request, local date and period (DESIGN §6 "Social time"); one row per (request, date, period) piece. The social report aggregates exactly these rows.
-- params: $tz, $workdays, $segments, $domains, $ignore_hosts, $idle_ms, $tail_ms, $utc_from, $utc_to, $date_from, $date_to, $user
--
-- $utc_from/$utc_to: naive UTC timestamps bounding the rows read (see needed_utc_range);
-- $date_from/$date_to: local dates reported, inclusive; $user: exact identity or NULL for all.
-- $segments: list of {start_min, end_min, period} covering a workday 0..1440;
-- $workdays: ISO day numbers (Mon=1); other days are wholly outside_hours.
-- Times are compared in whole milliseconds (the log's precision).
WITH
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
        FROM events AS e
        WHERE e.action = 'allowed'
          AND e.ts >= timezone('UTC', $utc_from::TIMESTAMP)
          AND e.ts < timezone('UTC', $utc_to::TIMESTAMP)
          AND ($user::VARCHAR IS NULL OR e."user" = $user::VARCHAR)
    )
),
social_hosts AS (
    SELECT s.host, s.h FROM hosts AS s
    WHERE EXISTS (SELECT 1 FROM dom WHERE s.h = dom.d OR ends_with(s.h, '.' || dom.d))
      AND NOT EXISTS (SELECT 1 FROM ign WHERE s.h = ign.x)
),
social AS (
    -- only then read the allowed requests to those hosts (the join filters the scan)
    SELECT e.ts, e."user", e.host, e.url, s.h,
           CAST(round(epoch_us(e.ts) / 1000.0) AS BIGINT) AS t_ms
    FROM events AS e
    JOIN social_hosts AS s ON e.host = s.host
    WHERE e.action = 'allowed'
      AND e.ts >= timezone('UTC', $utc_from::TIMESTAMP)
      AND e.ts < timezone('UTC', $utc_to::TIMESTAMP)
      AND ($user::VARCHAR IS NULL OR e."user" = $user::VARCHAR)
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
days AS (
    SELECT CAST(d AS DATE) AS d
    FROM range(CAST($date_from::DATE AS TIMESTAMP),
               CAST($date_to::DATE AS TIMESTAMP) + INTERVAL 1 DAY,
               INTERVAL 1 DAY) AS t(d)
),
seg AS (
    SELECT unnest($segments::STRUCT(start_min INTEGER, end_min INTEGER, period VARCHAR)[], recursive := true)
),
slots AS (
    SELECT days.d, seg.start_min, seg.period
    FROM days CROSS JOIN seg
    WHERE list_contains($workdays::INTEGER[], isodow(days.d))
    UNION ALL
    SELECT days.d, 0 AS start_min, 'outside_hours' AS period
    FROM days
    WHERE NOT list_contains($workdays::INTEGER[], isodow(days.d))
),
bounds AS (
    -- local clock boundaries of each date converted through the tz database;
    -- the running max keeps them monotonic inside skipped/repeated hours.
    -- (ICU maps a clock time in a repeated autumn hour to its later occurrence
    -- and one in a skipped spring hour to the offset before the change; only a
    -- schedule edge inside 01:00-02:00 on a UK clock-change Sunday is affected.)
    SELECT d, start_min, period,
           max(epoch_ms(timezone($tz, CAST(d AS TIMESTAMP) + to_minutes(start_min))))
               OVER (PARTITION BY d ORDER BY start_min ROWS UNBOUNDED PRECEDING) AS start_ms,
           epoch_ms(timezone($tz, CAST(d + 1 AS TIMESTAMP))) AS day_end_ms
    FROM slots
),
slot AS (
    SELECT d, period, start_ms,
           coalesce(lead(start_ms) OVER (PARTITION BY d ORDER BY start_min), day_end_ms) AS end_ms
    FROM bounds
),
slot_hours AS (
    -- each slot under every UTC hour its span touches (a few per date)
    SELECT d, period, start_ms, end_ms,
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
pieces AS (
    -- every slot the coverage overlaps; a zero-length coverage (two requests in
    -- the same millisecond) still yields a 0-second piece on its own date, so
    -- every request is listed. The equi-join on the hour only narrows the
    -- candidates; a pair meeting in several hours is kept in the first of them.
    SELECT c.req_id, c.ts, c."user", c.host, c.url, slot.d AS date, slot.period,
           least(c.e_ms, slot.end_ms) - greatest(c.s_ms, slot.start_ms) AS ms
    FROM cov_hours AS c
    JOIN slot_hours AS slot
      ON slot.hour = c.hour
     AND slot.start_ms < greatest(c.e_ms, c.s_ms + 1)
     AND slot.end_ms > c.s_ms
     AND c.hour = greatest(c.s_ms // 3600000, slot.first_hour)
)
SELECT ts,
       timezone($tz, ts) AS local_time,
       "user", host, url, date, period,
       covered_ms / 1000.0 AS covered_seconds,
       covered_ms,
       req_id
FROM (
    -- ts, host and url are the request's own (req_id is unique per identity)
    SELECT "user", req_id, date, period,
           any_value(ts) AS ts, any_value(host) AS host, any_value(url) AS url,
           CAST(sum(ms) AS BIGINT) AS covered_ms
    FROM pieces
    GROUP BY "user", req_id, date, period
)
ORDER BY "user", ts, req_id, date, period
