-- name: summary
-- description: Per UTC month of the events view: rows, first and last timestamp, identities, blocked and allowed requests.
-- params:
--
-- The store adds files ingested / rejected / expired from its manifest.
SELECT strftime(timezone('UTC', ts), '%Y-%m') AS month,
       CAST(count(*) AS BIGINT) AS rows,
       min(ts) AS first_ts,
       max(ts) AS last_ts,
       CAST(count(DISTINCT "user") AS BIGINT) AS users,
       CAST(count(*) FILTER (WHERE action = 'blocked') AS BIGINT) AS blocked,
       CAST(count(*) FILTER (WHERE action = 'allowed') AS BIGINT) AS allowed
FROM events
GROUP BY month
ORDER BY month
