//! Column-level SQL fragments shared by the SCD1 and SCD2 scripts: types, the typed
//! projection of a stream row, key joins, column DDL and the task wrapper.

use super::RenderOptions;
use crate::spec::{Column, ColumnType, TableSpec};

pub(super) fn snowflake_type(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "NUMBER(38, 0)",
        ColumnType::Float => "FLOAT",
        ColumnType::Boolean => "BOOLEAN",
        ColumnType::String => "VARCHAR",
        ColumnType::Timestamp => "TIMESTAMP_NTZ(3)",
    }
}

pub(super) fn col(c: &Column) -> String {
    c.name.to_ascii_uppercase()
}

/// Accepted timestamp text (see `typing.rs` and the table in `sql/README.md`).
const TIMESTAMP_RE: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):?[0-5][0-9])?$";
/// An integer given as digits (at most 18, so it fits every implementation).
const SMALL_INTEGER_RE: &str = "^[+-]?[0-9]{1,18}$";
/// A number in decimal or exponent notation (no `inf`/`nan`).
const DECIMAL_RE: &str = "^[+-]?[0-9]+([.][0-9]*)?([eE][+-]?[0-9]+)?$";

/// The SQL typing one record field `field` (a VARIANT path) into column type `ty`, with the
/// accepted forms of `typing.rs`; NULL when the value is not in an accepted form. Every
/// parse has an explicit format, so the account's `TIMESTAMP_INPUT_FORMAT` does not matter.
pub(super) fn typed_expr(field: &str, ty: ColumnType, indent: usize) -> String {
    let t = format!("{field}::VARCHAR");
    let pad = " ".repeat(indent);
    match ty {
        ColumnType::String => t,
        ColumnType::Integer => format!(
            "CASE\n{pad}    WHEN REGEXP_LIKE({t}, '{SMALL_INTEGER_RE}') THEN TRY_CAST({t} AS NUMBER(38, 0))\n\
             {pad}    WHEN REGEXP_LIKE({t}, '{DECIMAL_RE}')\n\
             {pad}        AND ABS(TRY_TO_DOUBLE({t})) < {max}\n\
             {pad}        AND TRY_TO_DOUBLE({t}) = FLOOR(TRY_TO_DOUBLE({t}))\n\
             {pad}        THEN TRY_TO_DOUBLE({t})::NUMBER(38, 0)\n\
             {pad}END",
            max = crate::typing::MAX_EXACT_DOUBLE as u64,
        ),
        ColumnType::Float => {
            format!("CASE WHEN REGEXP_LIKE({t}, '{DECIMAL_RE}') THEN TRY_TO_DOUBLE({t}) END")
        }
        ColumnType::Boolean => {
            format!("CASE LOWER({t}) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END")
        }
        // Rebuilt as `YYYY-MM-DD HH24:MI:SS.FF3 TZH:TZM` (fraction truncated to ms, no
        // offset = +00:00), parsed with that explicit format, converted to UTC.
        ColumnType::Timestamp => format!(
            "CASE WHEN REGEXP_LIKE({t}, '{TIMESTAMP_RE}')\n\
             {pad}    AND TRY_TO_DATE(SUBSTR({t}, 1, 10), 'YYYY-MM-DD') IS NOT NULL THEN\n\
             {pad}    CONVERT_TIMEZONE('UTC', TRY_TO_TIMESTAMP_TZ(\n\
             {pad}        SUBSTR({t}, 1, 10) || ' ' || SUBSTR({t}, 12, 8) || '.'\n\
             {pad}        || SUBSTR(CASE WHEN SUBSTR({t}, 20, 1) = '.' THEN REGEXP_REPLACE(SUBSTR({t}, 21), '[^0-9].*', '') ELSE '' END || '000', 1, 3)\n\
             {pad}        || ' ' || CASE\n\
             {pad}            WHEN REGEXP_LIKE({t}, '^.*[+-][0-9]{{2}}:[0-9]{{2}}$') THEN RIGHT({t}, 6)\n\
             {pad}            WHEN REGEXP_LIKE({t}, '^.*[+-][0-9]{{4}}$') THEN LEFT(RIGHT({t}, 5), 3) || ':' || RIGHT({t}, 2)\n\
             {pad}            ELSE '+00:00'\n\
             {pad}        END,\n\
             {pad}        'YYYY-MM-DD HH24:MI:SS.FF3 TZH:TZM'))::TIMESTAMP_NTZ(3)\n\
             {pad}END"
        ),
    }
}

/// The typed projection of a stream row, with the accepted forms of `typing.rs`: a value
/// not in an accepted form becomes NULL (rows with a NULL key or event time are rejected).
/// Also `IS_DELETED`, `FILE_NAME`, `FILE_ROW_NUMBER`, and `RECORD` when `with_record`.
pub(super) fn typed_select(spec: &TableSpec, indent: usize, with_record: bool) -> String {
    let mut lines: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            let field = format!("s.RECORD:{}", c.name);
            format!("{} AS {}", typed_expr(&field, c.ty, indent), col(c))
        })
        .collect();
    lines.push(format!(
        "COALESCE(s.RECORD:{}::VARCHAR = '{}', FALSE) AS IS_DELETED",
        spec.delete_marker.column, spec.delete_marker.value
    ));
    lines.push("s.FILE_NAME".into());
    lines.push("s.FILE_ROW_NUMBER".into());
    if with_record {
        lines.push("s.RECORD".into());
    }
    lines.join(&format!(",\n{}", " ".repeat(indent)))
}

/// The columns whose NULL-ness rejects a row, in the order reasons are given: the key
/// columns, then the event time.
pub(super) fn required_cols(spec: &TableSpec) -> Vec<&Column> {
    spec.key
        .iter()
        .chain([&spec.event_time])
        .filter_map(|n| spec.column(n))
        .collect()
}

/// The reject reason of a typed row (`typed` alias) read from `raw` (stream alias): the
/// same text as `typing::reject_reason`; NULL when the row is kept.
pub(super) fn reject_reason_expr(
    spec: &TableSpec,
    raw: &str,
    typed: &str,
    indent: usize,
) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::from("CASE");
    for c in required_cols(spec) {
        out += &format!(
            "\n{pad}    WHEN {raw}.RECORD:{name}::VARCHAR IS NULL THEN '{missing}'\n\
             {pad}    WHEN {typed}.{col} IS NULL THEN '{invalid}'",
            name = c.name,
            col = col(c),
            missing = crate::typing::missing_reason(&c.name),
            invalid = crate::typing::invalid_reason(&c.name, c.ty),
        );
    }
    out + &format!("\n{pad}END")
}

/// The total order of versions of one key, greatest first (the winner): event time, then
/// deletes above other operations at the same event time, then every other column's value
/// (NULL lowest, text by bytes) so that the outcome never depends on arrival order.
/// `extra` is appended (e.g. to make stored rows win exact ties).
pub(super) fn version_order(spec: &TableSpec, extra: &str) -> String {
    let et = spec.event_time.to_ascii_uppercase();
    let mut parts = vec![format!("{et} DESC"), "IS_DELETED DESC".to_string()];
    parts.extend(
        spec.columns
            .iter()
            .filter(|c| !spec.key.contains(&c.name) && c.name != spec.event_time)
            .map(|c| format!("{} DESC NULLS LAST", col(c))),
    );
    if !extra.is_empty() {
        parts.push(extra.to_string());
    }
    parts.join(", ")
}

pub(super) fn key_cols(spec: &TableSpec) -> Vec<String> {
    spec.key.iter().map(|k| k.to_ascii_uppercase()).collect()
}

/// The typed rows of `source` that have a key and an event time (the others are recorded
/// by the rejects task): a `SELECT` whose lines after the first are indented by `indent`.
pub(super) fn valid_rows(spec: &TableSpec, source: &str, indent: usize) -> String {
    [
        "SELECT *".to_owned(),
        "FROM (".to_owned(),
        "    SELECT".to_owned(),
        format!("        {}", typed_select(spec, indent + 8, false)),
        format!("    FROM {source} AS s"),
        ") AS typed".to_owned(),
        format!("WHERE {}", not_null_filter(spec)),
    ]
    .join(&format!("\n{}", " ".repeat(indent)))
}

pub(super) fn not_null_filter(spec: &TableSpec) -> String {
    key_cols(spec)
        .into_iter()
        .chain([spec.event_time.to_ascii_uppercase()])
        .map(|c| format!("{c} IS NOT NULL"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Every column then `IS_DELETED`, each as `{alias}.{COLUMN}`, comma-separated: a version's
/// full row in the MERGEs' ordering subqueries.
pub(super) fn prefixed_row(spec: &TableSpec, alias: &str) -> String {
    spec.columns
        .iter()
        .map(col)
        .chain(["IS_DELETED".to_string()])
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `t.{C} = s.{C}` for every non-key column and `IS_DELETED`: the MERGEs' UPDATE SET list.
pub(super) fn update_sets(spec: &TableSpec) -> Vec<String> {
    spec.non_key_columns()
        .map(col)
        .chain(["IS_DELETED".to_string()])
        .map(|c| format!("t.{c} = s.{c}"))
        .collect()
}

pub(super) fn join_on(spec: &TableSpec, left: &str, right: &str) -> String {
    key_cols(spec)
        .iter()
        .map(|k| format!("{left}.{k} = {right}.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

pub(super) fn column_ddl(spec: &TableSpec) -> String {
    spec.columns
        .iter()
        .map(|c| {
            let not_null = if spec.key.contains(&c.name) || c.name == spec.event_time {
                " NOT NULL"
            } else {
                ""
            };
            format!("    {} {}{not_null},\n", col(c), snowflake_type(c.ty))
        })
        .collect()
}

pub(super) fn task(name: &str, stream: &str, o: &RenderOptions, body: &str) -> String {
    format!(
        "CREATE OR REPLACE TASK {name}
    WAREHOUSE = {wh}
    SCHEDULE = '{schedule}'
    WHEN SYSTEM$STREAM_HAS_DATA('{stream}')
AS
{body};

-- Tasks are created suspended.
ALTER TASK {name} RESUME;
",
        wh = o.warehouse,
        schedule = o.task_schedule,
    )
}
