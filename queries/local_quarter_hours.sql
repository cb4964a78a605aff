-- name: local_quarter_hours
-- description: Included by the dated queries: the local date d of every UTC quarter hour q (epoch_ms // 900000) of [$utc_from, $utc_to]; a row's local date is its quarter hour's, with no time-zone conversion per row.
-- params: $tz, $utc_from, $utc_to
--
-- UTC offsets and their changes are whole quarter hours, so every instant of a
-- quarter hour is on the local date of its start. Used as
-- `JOIN ({{local_quarter_hours}}) AS qh ON qh.q = epoch_ms(e.ts) // 900000`.
SELECT q, CAST(timezone($tz, make_timestamp(q * 900000000)::TIMESTAMPTZ) AS DATE) AS d
FROM range(epoch_ms(timezone('UTC', $utc_from::TIMESTAMP)) // 900000,
           epoch_ms(timezone('UTC', $utc_to::TIMESTAMP)) // 900000 + 1) AS t(q)
