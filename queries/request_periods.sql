-- name: request_periods
-- description: One identity's requests with their local date and period (in_break | outside_break | outside_hours) under that identity's own timetable (DESIGN §6); the investigation export labels its non-social rows with these.
-- params: $tz, $user
--
-- The same timetable includes as social_segments, so a request is in the period
-- its social coverage would be in. Every request in [$utc_from, $utc_to) is
-- returned; period is NULL for one whose local date is outside
-- [$date_from, $date_to]. $user is the (resolved) identity.
WITH
req AS (
    SELECT e.ts, e.host, e.url, e.action, e.category, e."user",
           CAST(round(epoch_us(e.ts) / 1000.0) AS BIGINT) AS t_ms,
           CAST(timezone($tz, e.ts) AS DATE) AS d
    FROM (
        {{events_in_range}}
    ) AS e
),
{{timetable_ctes}},
user_days AS (
    SELECT $user::VARCHAR AS "user", d FROM days
),
who AS (
    {{timetable_who}}
)
SELECT req.ts, req.host, req.url, req.action, req.category, req.d AS date, slot.period
FROM req
LEFT JOIN who ON who."user" = req."user" AND who.d = req.d
LEFT JOIN slot ON slot.k = who.k AND slot.d = req.d
 AND req.t_ms >= slot.start_ms AND req.t_ms < slot.end_ms
ORDER BY req.ts
