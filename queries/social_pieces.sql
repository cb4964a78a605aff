-- name: social_pieces
-- description: Included by social_segments (which orders it): social time per request, local date and period (DESIGN §6 "Social time"), one row per (request, date, period) piece, in no particular order.
-- params: $tz
--
-- The CTEs are social_request_ctes' and social_piece_ctes' (which the social
-- report sums directly); this file merges a request's pieces in one period of one
-- date into one row (its coverage can meet more than one slot of the same period:
-- adjacent segments of one kind, a slot that a clock change made empty).
WITH
{{social_request_ctes}},
ordered AS (
    -- each identity's requests in time order; requests at the same ts by host
    -- and url, so a listing is deterministic (which of them gets the 0-second
    -- coverage); req_id numbers them
    SELECT *,
           row_number() OVER w AS req_id,
           lead(t_ms) OVER w AS next_ms
    FROM social
    WINDOW w AS (PARTITION BY "user" ORDER BY ts, h, url)
),
{{social_piece_ctes}},
timed AS MATERIALIZED (
    -- computed once for the two readers below
    SELECT * FROM candidates
),
{{own_timetable_ctes}}
SELECT ts,
       timezone($tz, ts) AS local_time,
       "user", host, url, date, period,
       covered_ms / 1000.0 AS covered_seconds,
       covered_ms,
       req_id,
       piece_start_ms
FROM (
    -- ts, host and url are the request's own (req_id is unique per identity)
    SELECT "user", req_id, date, period,
           any_value(ts) AS ts, any_value(host) AS host, any_value(url) AS url,
           CAST(sum(ms) AS BIGINT) AS covered_ms,
           min(piece_ms) AS piece_start_ms
    FROM own
    GROUP BY "user", req_id, date, period
)
