-- name: timetable_ctes
-- description: Included inside a WITH list (a fragment, not a query) by the queries that classify requests by timetable (DESIGN §6): the CTEs days, member_schedule, kinds and slot.
-- params:
--
-- days(d): the local dates reported; slot: every timetable's classified slots
-- on every date of the range. The including query then defines user_days and
-- who ({{timetable_who}}).
days AS (
    {{local_days}}
),
member_schedule AS (
    {{timetable_members}}
),
kinds AS (
    {{timetable_kinds}}
),
slot AS (
    {{timetable_slots}}
)
