-- name: local_days
-- description: Included by the dated queries: the local dates d of [$date_from, $date_to], one row each.
-- params: $date_from, $date_to
SELECT CAST(d AS DATE) AS d
FROM range(CAST($date_from::DATE AS TIMESTAMP),
           CAST($date_to::DATE AS TIMESTAMP) + INTERVAL 1 DAY,
           INTERVAL 1 DAY) AS t(d)
