-- name: timetable_slots
-- description: Included by the timetable queries: the classified slots [start_ms, end_ms) of every timetable k on every local date d of the range (in_break | outside_break | outside_hours); closed days and bank holidays are non-workdays.
-- params: $tz
--
-- The including query defines days(d) and kinds ({{timetable_kinds}}); reads org_segments, org_closed.
WITH
kind_days AS (
    -- a closed day or bank holiday is a non-workday for everyone
    SELECT kinds.k, kinds.schedule, days.d,
           list_contains(kinds.workdays, isodow(days.d))
               AND days.d NOT IN (SELECT d FROM org_closed) AS workday
    FROM kinds CROSS JOIN days
),
slots AS (
    SELECT kd.k, kd.d, seg.start_min, seg.period
    FROM kind_days AS kd JOIN org_segments AS seg ON seg.schedule = kd.schedule
    WHERE kd.workday
    UNION ALL
    SELECT kd.k, kd.d, 0 AS start_min, 'outside_hours' AS period
    FROM kind_days AS kd
    WHERE NOT kd.workday
),
bounds AS (
    -- local clock boundaries of each date converted through the tz database;
    -- the running max keeps them monotonic inside skipped/repeated hours.
    -- (ICU maps a clock time in a repeated autumn hour to its later occurrence
    -- and one in a skipped spring hour to the offset before the change; only a
    -- schedule edge inside 01:00-02:00 on a UK clock-change Sunday is affected.)
    SELECT k, d, start_min, period,
           max(epoch_ms(timezone($tz, CAST(d AS TIMESTAMP) + to_minutes(start_min))))
               OVER (PARTITION BY k, d ORDER BY start_min ROWS UNBOUNDED PRECEDING) AS start_ms,
           epoch_ms(timezone($tz, CAST(d + 1 AS TIMESTAMP))) AS day_end_ms
    FROM slots
)
SELECT k, d, period, start_ms,
       coalesce(lead(start_ms) OVER (PARTITION BY k, d ORDER BY start_min), day_end_ms) AS end_ms
FROM bounds
