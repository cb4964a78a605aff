-- name: person_timetable
-- description: One identity's own timetable on each local date of [$date_from, $date_to] (DESIGN §6 "Which timetable applies"), as the classified slots the estimator cut its time by; the investigation export states and draws these, so its text and timeline show the timetable its figures used.
-- params: $user
--
-- The same timetable includes as request_periods and the social queries: one row
-- per slot [start_ms, end_ms) of the identity's timetable k on date d, with that
-- timetable's schedule name ('' = [schedule]) and workdays (ISO 1-7). A closed day
-- or bank holiday is one 'outside_hours' slot, as for the estimator.
WITH
{{timetable_ctes}},
user_days AS (
    SELECT $user::VARCHAR AS "user", d FROM days
),
who AS (
    {{timetable_who}}
)
SELECT who.d AS date, kinds.schedule, kinds.workdays, slot.period, slot.start_ms, slot.end_ms
FROM who
JOIN kinds ON kinds.k = who.k
JOIN slot ON slot.k = who.k AND slot.d = who.d
ORDER BY date, start_ms
