-- name: social
-- description: Social report (DESIGN §6): per identity and local date, social minutes split by period, requests made that date, flagged.
-- params: $flag_minutes
--
-- Built on social_pieces (inlined below), the rows social_segments lists, so summing
-- their covered_seconds per user and date gives exactly these minutes x 60.
-- Minutes are rounded half-up to 2 decimals from whole milliseconds;
-- flagged compares the rounded outside_break_minutes with $flag_minutes.
WITH
seg AS (
    {{social_pieces}}
),
daily AS (
    SELECT "user", date,
           sum(covered_ms) AS total_ms,
           coalesce(sum(covered_ms) FILTER (WHERE period = 'outside_break'), 0) AS ob_ms,
           coalesce(sum(covered_ms) FILTER (WHERE period = 'in_break'), 0) AS ib_ms,
           coalesce(sum(covered_ms) FILTER (WHERE period = 'outside_hours'), 0) AS oh_ms,
           count(DISTINCT req_id) FILTER (WHERE CAST(local_time AS DATE) = date) AS requests
    FROM seg
    GROUP BY "user", date
    HAVING sum(covered_ms) > 0
),
rounded AS (
    SELECT "user", date,
           ((total_ms * 100 + 30000) // 60000) / 100.0 AS social_minutes,
           ((ob_ms * 100 + 30000) // 60000) / 100.0 AS outside_break_minutes,
           ((ib_ms * 100 + 30000) // 60000) / 100.0 AS in_break_minutes,
           ((oh_ms * 100 + 30000) // 60000) / 100.0 AS outside_hours_minutes,
           requests
    FROM daily
)
SELECT "user", date,
       CAST(social_minutes AS DOUBLE) AS social_minutes,
       CAST(outside_break_minutes AS DOUBLE) AS outside_break_minutes,
       CAST(in_break_minutes AS DOUBLE) AS in_break_minutes,
       CAST(outside_hours_minutes AS DOUBLE) AS outside_hours_minutes,
       CAST(requests AS BIGINT) AS requests,
       outside_break_minutes >= $flag_minutes::DOUBLE AS flagged
FROM rounded
ORDER BY date, "user"
