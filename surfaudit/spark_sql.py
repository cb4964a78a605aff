"""Translate the DuckDB queries of `queries/*.sql` into Spark SQL.

Why: each report keeps ONE source of truth, the DuckDB query file. sqlglot
parses it and writes Spark SQL; the few DuckDB idioms sqlglot does not map (or
maps with other semantics) are rewritten here on the syntax tree, each rule
documented below. A query that must differ on Spark can have its own file
`queries/spark/<name>.sql`; none is needed today.

Semantics this module relies on: the Spark session time zone is UTC, so a
TIMESTAMP (Spark's instant type) reads as a UTC wall clock, and a DuckDB naive
TIMESTAMP is Spark's TIMESTAMP_NTZ.
"""

from __future__ import annotations

import re
from functools import lru_cache

import sqlglot
from sqlglot import exp

from surfaudit.schema import COLUMNS
from surfaudit.sql import Query, load_query, queries_dir

SPARK_DIR = "spark"
_INCLUDE = re.compile(r"\{\{\s*([a-z0-9_]+)\s*\}\}")


def _fn(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _naive(node: exp.Expression) -> bool:
    """True when `node` is a DuckDB naive TIMESTAMP (a local clock reading)."""
    if isinstance(node, exp.Paren):
        return _naive(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in (exp.DataType.Type.TIMESTAMP, exp.DataType.Type.TIMESTAMPNTZ)
    if isinstance(node, (exp.Add, exp.Sub)):
        return _naive(node.this)
    return False


def _timezone(node: exp.Anonymous) -> exp.Expression:
    """DuckDB timezone(zone, x): a naive clock reading -> the instant (to_utc_timestamp);
    an instant -> the zone's naive clock reading (from_utc_timestamp, as TIMESTAMP_NTZ)."""
    zone, value = node.expressions
    if _naive(value):
        if zone.is_string and zone.name.upper() == "UTC":  # the session time zone
            return exp.Cast(this=value, to=exp.DataType.build("TIMESTAMP"))
        return _local_to_instant(value, zone)
    return exp.Cast(this=_fn("from_utc_timestamp", value, zone), to=exp.DataType.build("TIMESTAMP_NTZ"))


def _local_to_instant(value: exp.Expression, zone: exp.Expression) -> exp.Expression:
    """A local clock reading in `zone` as an instant, the way DuckDB (ICU) resolves it.

    Java (Spark) resolves a clock time in a repeated autumn hour to its EARLIER
    occurrence, ICU to its LATER one; a time in a skipped spring hour both move
    forward by the gap. So: take Spark's answer e, and the instant one offset
    change later, l = e + (offset at e - offset 6 hours after e); when l reads as
    the same clock time (the reading is repeated), it is the later occurrence.
    """
    earlier = _fn("to_utc_timestamp", value.copy(), zone.copy())

    def offset(at: exp.Expression) -> exp.Expression:
        return exp.Paren(this=exp.Sub(this=_fn("unix_seconds", _fn("from_utc_timestamp", at, zone.copy())),
                                      expression=_fn("unix_seconds", at.copy())))

    six_h = exp.Add(this=earlier.copy(), expression=exp.Interval(this=exp.Literal.string("6"), unit=exp.var("HOUR")))
    shift = exp.Paren(this=exp.Sub(this=offset(earlier.copy()), expression=offset(six_h)))
    later = _fn("timestamp_seconds", exp.Add(this=_fn("unix_seconds", earlier.copy()), expression=shift))
    same = exp.EQ(this=exp.Cast(this=_fn("from_utc_timestamp", later.copy(), zone.copy()),
                                to=exp.DataType.build("TIMESTAMP_NTZ")),
                  expression=exp.Cast(this=value.copy(), to=exp.DataType.build("TIMESTAMP_NTZ")))
    # unix_seconds drops sub-second parts: keep Spark's own answer unless the hour repeats
    repeated = exp.and_(exp.GT(this=shift.copy(), expression=exp.Literal.number(0)), same)
    return exp.If(this=repeated, true=later, false=earlier)


def _slice(node: exp.Bracket) -> exp.Expression | None:
    """DuckDB list slice x[a:b] (1-based, inclusive) -> slice(x, a, b - a + 1)."""
    if len(node.expressions) != 1 or not isinstance(node.expressions[0], exp.Slice):
        return None
    sl = node.expressions[0]
    start = sl.this if sl.this is not None else exp.Literal.number(1)
    end = sl.expression if sl.expression is not None else _fn("size", node.this.copy())
    length = exp.Add(this=exp.Sub(this=exp.Paren(this=end.copy()), expression=exp.Paren(this=start.copy())),
                     expression=exp.Literal.number(1))
    return _fn("slice", node.this, start, length)


def _sequence(gen: exp.GenerateSeries) -> exp.Expression:
    """DuckDB range(start, stop[, step]) (stop excluded) -> sequence(start, stop - step, step)."""
    step = gen.args.get("step")
    end = gen.args["end"]
    if gen.args.get("is_end_exclusive"):
        end = exp.Sub(this=exp.Paren(this=end), expression=step.copy() if step is not None else exp.Literal.number(1))
    args = [gen.args["start"], end] + ([step] if step is not None else [])
    return _fn("sequence", *args)


def _min_by_order(node: exp.First) -> exp.Expression | None:
    """first(x ORDER BY k1 [DESC], ...) -> min_by(x, struct of sort keys): a DESC key is
    negated (numeric keys only), NULLS LAST/FIRST becomes a leading IS [NOT] NULL flag."""
    order = node.this
    if not isinstance(order, exp.Order):
        return None
    fields: list[exp.Expression] = []
    for i, ordered in enumerate(order.expressions):
        key = ordered.this
        desc = bool(ordered.args.get("desc"))
        nulls_first = bool(ordered.args.get("nulls_first"))
        flag = exp.Is(this=key.copy(), expression=exp.Null())
        fields += [exp.Literal.string(f"n{i}"), exp.Not(this=flag) if nulls_first else flag,
                   exp.Literal.string(f"k{i}"), exp.Neg(this=exp.Paren(this=key.copy())) if desc else key.copy()]
    return _fn("min_by", order.this, _fn("named_struct", *fields))


def _replace_star(node: exp.Column) -> exp.Expression | None:
    """e.* REPLACE (expr AS c) over the stored events -> the event columns, c replaced."""
    star = node.this
    if not isinstance(star, exp.Star) or not star.args.get("replace"):
        return None
    table = node.table
    replaced = {a.alias: a for a in star.args["replace"]}
    unknown = set(replaced) - set(COLUMNS)
    if unknown:
        raise ValueError(f"REPLACE of columns {sorted(unknown)} outside the event schema")
    cols = [replaced[c].copy() if c in replaced else exp.column(c, table=table, quoted=True) for c in COLUMNS]
    return exp.Tuple(expressions=cols)  # flattened by _flatten_tuples


def _rewrite(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name == "timezone" and len(node.expressions) == 2:
            return _timezone(node)
        if name == "epoch_us":
            return _fn("unix_micros", *node.expressions)
        if name == "to_minutes":
            return _fn("make_dt_interval", exp.Literal.number(0), exp.Literal.number(0), node.expressions[0],
                       exp.Literal.number(0))
        if name == "list_zip" and len(node.expressions) == 2:
            # a list of [a_i, b_i] pairs, indexed p[1], p[2] in DuckDB (p[0], p[1] after sqlglot)
            x, y = exp.to_identifier("_zx"), exp.to_identifier("_zy")
            pair = exp.Lambda(this=exp.Array(expressions=[exp.column(x), exp.column(y)]), expressions=[x, y])
            return _fn("zip_with", *node.expressions, pair)
        if name == "len":
            return _fn("size", *node.expressions)
    if isinstance(node, exp.Length) and isinstance(node.this, (exp.ArrayFilter, exp.Anonymous)):
        return _fn("size", node.this)  # DuckDB len(list)
    if isinstance(node, exp.UnixToTime):
        scale = node.args.get("scale")
        scale = int(scale.name) if scale is not None else 0
        if scale == 3:  # DuckDB epoch_ms(timestamp): milliseconds since the epoch
            return _fn("unix_millis", node.this)
        if scale == 6:  # DuckDB make_timestamp(microseconds)
            return _fn("timestamp_micros", node.this)
    if isinstance(node, exp.DayOfWeekIso):  # sqlglot writes ((dayofweek(d) % 7) + 1): Sunday = 1
        return exp.Paren(this=exp.Add(this=_fn("weekday", node.this), expression=exp.Literal.number(1)))
    if isinstance(node, exp.Bracket):
        out = _slice(node)
        if out is not None:
            return out
    if isinstance(node, exp.Explode) and isinstance(node.this, exp.GenerateSeries):
        return exp.Explode(this=_sequence(node.this))
    if isinstance(node, exp.Table) and isinstance(node.this, exp.GenerateSeries):
        # FROM range(...) AS t(d) -> FROM (SELECT explode(sequence(...)) AS d) AS t
        alias = node.args.get("alias")
        col = alias.columns[0].name if alias is not None and alias.columns else "range"
        name = alias.name if alias is not None and alias.name else "_range"
        inner = exp.select(exp.alias_(exp.Explode(this=_sequence(node.this)), col))
        return exp.Subquery(this=inner, alias=exp.TableAlias(this=exp.to_identifier(name)))
    if isinstance(node, exp.First):
        out = _min_by_order(node)
        if out is not None:
            return out
    if isinstance(node, exp.CTE) and node.args.get("materialized") is not None:
        node.set("materialized", None)  # Spark has no MATERIALIZED hint; the plan is the same
    if isinstance(node, exp.Column):
        out = _replace_star(node)
        if out is not None:
            return out
    if isinstance(node, exp.Limit) and isinstance(node.expression, exp.Cast):
        node.expression.set("to", exp.DataType.build("INT"))  # Spark's LIMIT takes an INT
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.INT128:
        return exp.DataType.build("DECIMAL(38, 0)")
    if isinstance(node, exp.Literal) and not node.is_string and "." in node.name:
        # DuckDB's `/` and decimal literals compute in DOUBLE; Spark's would in DECIMAL
        return exp.Cast(this=node.copy(), to=exp.DataType.build("DOUBLE"))
    return node


def _flatten_tuples(tree: exp.Expression) -> None:
    for select in tree.find_all(exp.Select):
        items = []
        for e in select.expressions:
            items.extend(e.expressions if isinstance(e, exp.Tuple) else [e])
        select.set("expressions", items)


def translate(sql: str) -> str:
    """DuckDB SQL (with $params) -> Spark SQL (with :params)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for node in reversed(list(tree.dfs())):  # children before their parents
        new = _rewrite(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    _flatten_tuples(tree)
    return tree.sql(dialect="spark", identify=True, unsupported_level=sqlglot.ErrorLevel.RAISE)


@lru_cache(maxsize=None)
def spark_query(name: str) -> Query:
    """The query `name` for Spark: `queries/spark/<name>.sql` when the query must
    differ (Spark SQL with `:params`; `{{include}}`s resolve through this function
    too), else the DuckDB file translated."""
    override = queries_dir() / SPARK_DIR / f"{name}.sql"
    query = load_query(name)  # the header (and the parameters) stay those of the DuckDB file
    if not override.is_file():
        return Query(query.name, query.description, query.params, translate(query.sql), query.path)
    body = "\n".join(line for line in override.read_text(encoding="utf-8").splitlines()
                     if not line.startswith("-- name:")).strip().rstrip(";")
    body = _INCLUDE.sub(lambda m: spark_query(m.group(1)).sql, body)
    return Query(query.name, query.description, query.params, body, str(override))


def translate_statement(sql: str) -> str:
    """A DDL statement of the store or org_sql (CREATE VIEW ... AS SELECT) for Spark."""
    return translate(sql)
