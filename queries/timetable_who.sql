-- name: timetable_who
-- description: Included by the timetable queries: the timetable k of each identity and local date (DESIGN §6): the member's schedule, else the site of the address of the identity's first request that day, else [schedule]; workdays the row's, else the schedule's.
-- params: $utc_from, $utc_to
--
-- The including query defines user_days(user, d), member_schedule and kinds;
-- reads org_client_events (the stored events when some site has `clients`, else empty),
-- org_people, org_sites, org_timetables and surfaudit_site_of (surfaudit.org_sql).
WITH
quarter_hours AS (
    {{local_quarter_hours}}
),
first_site AS (
    -- the site of an identity's first request on a local date, by client address;
    -- only for identities without a directory row (org_client_events is empty
    -- unless some site has `clients`)
    SELECT "user", d, surfaudit_site_of(ip) AS site
    FROM (
        SELECT e."user", qh.d, arg_min(e.client_ip, e.ts) AS ip
        FROM org_client_events AS e
        JOIN quarter_hours AS qh ON qh.q = epoch_ms(e.ts) // 900000
        WHERE e.ts >= timezone('UTC', $utc_from::TIMESTAMP)
          AND e.ts < timezone('UTC', $utc_to::TIMESTAMP)
          AND e."user" IN (SELECT "user" FROM user_days)
          AND e."user" NOT IN (SELECT identity FROM org_people)
        GROUP BY ALL
    )
)
-- DESIGN §6 "Which timetable applies", per identity and local date: the
-- member's schedule (row > group > site), else the site of the first
-- request's address, else [schedule]; workdays: the row's, else the schedule's
SELECT ud."user", ud.d, kinds.k
FROM user_days AS ud
LEFT JOIN member_schedule AS m ON m.identity = ud."user"
LEFT JOIN first_site AS fs ON fs."user" = ud."user" AND fs.d = ud.d AND m.identity IS NULL
LEFT JOIN org_sites AS st ON st.site = fs.site
JOIN org_timetables AS t ON t.schedule = coalesce(m.schedule, st.schedule, '')
JOIN kinds ON kinds.schedule = t.schedule AND kinds.workdays = coalesce(m.own_workdays, t.workdays)
