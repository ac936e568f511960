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

/// The typed projection of a stream row: like `TRY_CAST`, a value that does not fit the
/// column type becomes NULL (rows with a NULL key or event time are skipped).
pub(super) fn typed_select(spec: &TableSpec, indent: usize) -> String {
    let mut lines: Vec<String> = spec
        .columns
        .iter()
        .map(|c| {
            let field = format!("s.RECORD:{}", c.name);
            match c.ty {
                ColumnType::String => format!("{field}::VARCHAR AS {}", col(c)),
                ty => format!(
                    "TRY_CAST({field}::VARCHAR AS {}) AS {}",
                    snowflake_type(ty),
                    col(c)
                ),
            }
        })
        .collect();
    lines.push(format!(
        "COALESCE(s.RECORD:{}::VARCHAR = '{}', FALSE) AS IS_DELETED",
        spec.delete_marker.column, spec.delete_marker.value
    ));
    lines.push("s.FILE_NAME".into());
    lines.push("s.FILE_ROW_NUMBER".into());
    lines.join(&format!(",\n{}", " ".repeat(indent)))
}

pub(super) fn key_cols(spec: &TableSpec) -> Vec<String> {
    spec.key.iter().map(|k| k.to_ascii_uppercase()).collect()
}

/// The typed rows of `source` with a key and an event time, one per `partition` (the first
/// by `order`): a `SELECT` whose lines after the first are indented by `indent`.
pub(super) fn one_row_per(
    spec: &TableSpec,
    source: &str,
    partition: &str,
    order: &str,
    indent: usize,
) -> String {
    [
        "SELECT *".to_owned(),
        "FROM (".to_owned(),
        "    SELECT".to_owned(),
        format!("        {}", typed_select(spec, indent + 8)),
        format!("    FROM {source} AS s"),
        ") AS typed".to_owned(),
        format!("WHERE {}", not_null_filter(spec)),
        "QUALIFY ROW_NUMBER() OVER (".to_owned(),
        format!("    PARTITION BY {partition}"),
        format!("    ORDER BY {order}"),
        ") = 1".to_owned(),
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
