-- name: summary
-- description: Per UTC month of the events view: rows, first and last timestamp, identities, blocked and allowed requests.
-- params: $tz, $date_from, $date_to
--
-- $date_from/$date_to (local dates in $tz, inclusive) limit it to the events of
-- those dates; NULL means no limit on that side. `users` counts distinct stored
-- identities (the log's user name, or the client address when it logged none),
-- before directory aliases are applied. The caller adds ingest runs, files
-- ingested, rejected and expired from the store's manifest and audit log.
SELECT strftime(timezone('UTC', ts), '%Y-%m') AS month,
       CAST(count(*) AS BIGINT) AS rows,
       min(ts) AS first_ts,
       max(ts) AS last_ts,
       CAST(count(DISTINCT "user") AS BIGINT) AS users,
       CAST(count(*) FILTER (WHERE action = 'blocked') AS BIGINT) AS blocked,
       CAST(count(*) FILTER (WHERE action = 'allowed') AS BIGINT) AS allowed
FROM events
WHERE ($date_from::DATE IS NULL OR CAST(timezone($tz::VARCHAR, ts) AS DATE) >= $date_from::DATE)
  AND ($date_to::DATE IS NULL OR CAST(timezone($tz::VARCHAR, ts) AS DATE) <= $date_to::DATE)
GROUP BY month
ORDER BY month
