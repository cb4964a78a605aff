-- name: top
-- description: Top hosts, registrable domains, categories or identities by request count, with bytes.
-- params: $by, $limit, $date_from, $date_to, $blocked_only
--
-- Counts real transactions (action allowed or blocked; proxy-auth challenges
-- and errors are not visits). $by is one of host, domain, category, user.
-- 'domain' groups hosts first, then maps each distinct host to its registrable
-- domain with the Python UDF surfaudit_registrable_domain (registered by the
-- caller; offline public-suffix list). A null category or host shows as '(none)'.
-- $blocked_only keeps the blocked requests alone (the dashboard's top blocked sites).
WITH
r AS (
    SELECT e."user",
           lower(CASE WHEN ends_with(e.host, '.') THEN rtrim(e.host, '.') ELSE e.host END) AS host,
           e.category, e.bytes
    FROM (
        {{events_in_range}}
    ) AS e
    JOIN (
        {{local_quarter_hours}}
    ) AS qh ON qh.q = epoch_ms(e.ts) // 900000
    WHERE e.action IN ('allowed', 'blocked')
      AND (NOT $blocked_only::BOOLEAN OR e.action = 'blocked')
      AND qh.d BETWEEN $date_from::DATE AND $date_to::DATE
),
first_pass AS (
    SELECT CASE $by::VARCHAR
               WHEN 'category' THEN coalesce(category, '(none)')
               WHEN 'user' THEN "user"
               ELSE host
           END AS k0,
           count(*) AS requests,
           coalesce(sum(bytes), 0) AS bytes
    FROM r
    GROUP BY k0
),
keyed AS (
    -- a request without a host (a relative URL, `http:///x`) is listed as '(none)', like a
    -- request without a category, not under an empty name
    SELECT coalesce(nullif(CASE WHEN $by::VARCHAR = 'domain' AND k0 IS NOT NULL
                                THEN surfaudit_registrable_domain(k0) ELSE k0 END, ''), '(none)') AS k,
           requests, bytes
    FROM first_pass
)
SELECT k AS "key",
       CAST(sum(requests) AS BIGINT) AS requests,
       CAST(sum(bytes) AS HUGEINT) AS bytes  -- BIGINT overflows past 9.2e18 bytes summed
FROM keyed
GROUP BY k
ORDER BY requests DESC, k ASC NULLS LAST
LIMIT $limit::BIGINT
