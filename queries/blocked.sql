-- name: blocked
-- description: Blocked report (DESIGN §6): per identity and local date, blocked requests, attempts (bursts), distinct hosts and the top host.
-- params: $tz, $burst_ms, $utc_from, $utc_to, $date_from, $date_to, $user
--
-- Only action = 'blocked' rows count (auth challenges and errors never do).
-- A blocked request starts a new attempt unless the same identity's previous
-- blocked request to the same host on the same local date was at most
-- $burst_ms milliseconds earlier (a chain). Times compare in whole milliseconds.
WITH
b AS (
    SELECT e."user",
           rtrim(lower(e.host), '.') AS host,
           CAST(timezone($tz, e.ts) AS DATE) AS date,
           CAST(round(epoch_us(e.ts) / 1000.0) AS BIGINT) AS t_ms
    FROM events AS e
    WHERE e.action = 'blocked'
      AND e.ts >= timezone('UTC', $utc_from::TIMESTAMP)
      AND e.ts < timezone('UTC', $utc_to::TIMESTAMP)
      AND ($user::VARCHAR IS NULL OR e."user" = $user::VARCHAR)
),
days AS (
    SELECT CAST(d AS DATE) AS date
    FROM range(CAST($date_from::DATE AS TIMESTAMP),
               CAST($date_to::DATE AS TIMESTAMP) + INTERVAL 1 DAY,
               INTERVAL 1 DAY) AS t(d)
),
per_host AS (
    -- one row per identity, date and host: its blocked requests in time order
    SELECT "user", date, host,
           count(*) AS n,
           list_sort(list(t_ms)) AS t
    FROM b
    GROUP BY "user", date, host
),
in_range AS (
    -- the reported dates (a join, so the local date is converted once per row)
    SELECT per_host.* FROM per_host JOIN days USING (date)
),
attempts AS (
    -- the first request starts an attempt, and so does each one more than
    -- $burst_ms after the previous (pairs of consecutive times: t[i+1], t[i])
    SELECT "user", date, host, n,
           CASE WHEN n = 1 THEN 1
                ELSE 1 + len(list_filter(list_zip(t[2:], t[1:n - 1]),
                                         lambda p: p[1] - p[2] > $burst_ms::BIGINT))
           END AS attempts
    FROM in_range
)
SELECT "user", date,
       CAST(sum(n) AS BIGINT) AS requests,
       CAST(sum(attempts) AS BIGINT) AS attempts,
       CAST(count(host) AS BIGINT) AS hosts,  -- distinct hosts (a NULL host is none)
       first(host ORDER BY n DESC, host ASC NULLS LAST) AS top_host
FROM attempts
GROUP BY "user", date
ORDER BY date, "user"
