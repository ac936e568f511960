//! The committed `sql/` scripts must be exactly what the renderer produces for
//! `specs/customers.toml` with the default options.
//! Regenerate with `UPDATE_SQL=1 cargo test -p warehouse --test it sql_drift`.

use std::path::PathBuf;

use warehouse::TableSpec;
use warehouse::snowflake::{RenderOptions, render, write};

fn sql_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sql")
}

#[test]
fn committed_sql_matches_renderer() {
    let spec = TableSpec::customers();
    let opts = RenderOptions::default();
    if std::env::var_os("UPDATE_SQL").is_some() {
        write(&spec, &opts, &sql_dir()).unwrap();
    }
    let rendered = render(&spec, &opts);
    for (name, sql) in &rendered {
        let path = sql_dir().join(name);
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} missing ({e}); run UPDATE_SQL=1 cargo test -p warehouse --test sql_drift",
                path.display()
            )
        });
        assert!(
            committed == *sql,
            "{} drifted from the renderer; run UPDATE_SQL=1 cargo test -p warehouse --test sql_drift",
            path.display()
        );
    }
    let mut stale: Vec<String> = std::fs::read_dir(sql_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql") && !rendered.iter().any(|(r, _)| r == n))
        .collect();
    stale.sort();
    assert!(
        stale.is_empty(),
        "sql/ has scripts the renderer no longer makes: {stale:?}"
    );
}

#[test]
fn rendered_sql_has_only_double_dash_comments_and_key_clauses() {
    let spec = TableSpec::customers();
    let all: String = render(&spec, &RenderOptions::default())
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    for line in all.lines() {
        assert!(!line.trim_start().starts_with('#'), "`#` comment: {line}");
        assert!(!line.contains("/*"), "block comment: {line}");
    }
    assert!(
        !all.contains("CURRENT_TIMESTAMP()\n    FROM @"),
        "pipe must use METADATA$ columns"
    );
    for needle in [
        "AUTO_INGEST = TRUE",
        "METADATA$FILENAME",
        "METADATA$FILE_ROW_NUMBER",
        "METADATA$START_SCAN_TIME",
        "APPEND_ONLY = TRUE",
        "WHEN SYSTEM$STREAM_HAS_DATA(",
        "COPY_HISTORY(",
        "SYSTEM$PIPE_STATUS(",
        "TASK_HISTORY(",
        "RESUME;",
        "QUALIFY ROW_NUMBER()",
    ] {
        assert!(all.contains(needle), "missing {needle}");
    }
}

#[test]
fn renderer_follows_a_different_spec() {
    let text = include_str!("../../../../specs/customers.toml")
        .replace("name = \"customers\"", "name = \"orders\"")
        .replace("key = [\"id\"]", "key = [\"id\", \"country\"]");
    let spec = TableSpec::parse(&text).unwrap();
    let merge = warehouse::snowflake::scd1_merge(&spec, &RenderOptions::default(), "SRC");
    assert!(
        merge.starts_with("MERGE INTO SNOWSTREAM.CORE.ORDERS_LATEST AS t"),
        "{merge}"
    );
    assert!(
        merge.contains("ON t.ID = s.ID AND t.COUNTRY = s.COUNTRY"),
        "{merge}"
    );
    assert!(merge.contains("PARTITION BY ID, COUNTRY"), "{merge}");
}

/// The migration fixture: `sql/tests/migration/migrate.sql` is what
/// `snowstream sql --from-spec specs/customers.toml --spec sql/tests/migration/customers_v2.toml`
/// renders; `scripts/check_sql.py` runs it on fakesnow.
#[test]
fn committed_migration_matches_renderer() {
    let dir = sql_dir().join("tests/migration");
    let new = TableSpec::from_file(&dir.join("customers_v2.toml")).unwrap();
    let sql = warehouse::snowflake::render_migration(
        &TableSpec::customers(),
        &new,
        &RenderOptions::default(),
    )
    .unwrap();
    let path = dir.join("migrate.sql");
    if std::env::var_os("UPDATE_SQL").is_some() {
        std::fs::write(&path, &sql).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sql,
        "{} drifted from the renderer; run UPDATE_SQL=1 cargo test -p warehouse --test sql_drift",
        path.display()
    );
    assert!(sql.contains("ADD COLUMN IF NOT EXISTS TIER NUMBER(38, 0)"));
    let unsupported = TableSpec::parse(
        &include_str!("../../../../specs/customers.toml").replace("\"job\"", "\"title\""),
    )
    .unwrap();
    let err = warehouse::snowflake::render_migration(
        &TableSpec::customers(),
        &unsupported,
        &RenderOptions::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("only columns appended"), "{err}");
}

/// `scd2_tracked` renders the hash-diff view after the SCD2 task (the customers spec has
/// none, so the committed scripts have no view).
#[test]
fn scd2_tracked_renders_the_hash_diff_view() {
    let text = format!(
        "scd2_tracked = [\"email\"]\n{}",
        include_str!("../../../../specs/customers.toml")
    );
    let spec = TableSpec::parse(&text).unwrap();
    let scripts = render(&spec, &RenderOptions::default());
    let scd2 = &scripts
        .iter()
        .find(|(n, _)| n == "06_scd2_history.sql")
        .unwrap()
        .1;
    assert!(scd2.contains("CREATE OR REPLACE VIEW SNOWSTREAM.CORE.CUSTOMERS_HISTORY_CHANGES AS"));
    assert!(scd2.contains("LAG(EMAIL) OVER (PARTITION BY ID ORDER BY VALID_FROM) AS PREV_EMAIL"));
    let plain = render(&TableSpec::customers(), &RenderOptions::default());
    assert!(!plain.iter().any(|(_, s)| s.contains("HISTORY_CHANGES")));
    let bad = format!(
        "scd2_tracked = [\"id\"]\n{}",
        include_str!("../../../../specs/customers.toml")
    );
    assert!(TableSpec::parse(&bad).is_err());
}

/// The record-envelope fixture: `sql/tests/envelope_record/03_raw_table_and_pipe.sql` is the
/// pipe script rendered for `customers_record.toml` (the customers spec with
/// `envelope = "record"`); `scripts/check_sql.py` parses it with the Snowflake dialect. Its
/// COPY takes the whole line as RECORD and NULL as META; every other script is the same as
/// for `meta`, since the SCD1, SCD2 and rejects tasks read RECORD, FILE_NAME and
/// FILE_ROW_NUMBER only.
#[test]
fn record_envelope_pipe_matches_renderer() {
    let dir = sql_dir().join("tests/envelope_record");
    let spec = TableSpec::from_file(&dir.join("customers_record.toml")).unwrap();
    assert_eq!(spec.envelope, records::landed::Envelope::Record);
    let opts = RenderOptions::default();
    let scripts = render(&spec, &opts);
    let name = "03_raw_table_and_pipe.sql";
    let pipe = &scripts.iter().find(|(n, _)| n == name).unwrap().1;
    let path = dir.join(name);
    if std::env::var_os("UPDATE_SQL").is_some() {
        std::fs::write(&path, pipe).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == *pipe,
        "{} drifted from the renderer; run UPDATE_SQL=1 cargo test -p warehouse --test sql_drift",
        path.display()
    );
    assert!(
        pipe.contains("        $1,\n        NULL,\n        METADATA$FILENAME,"),
        "{pipe}"
    );
    assert!(
        !pipe.contains("$1:record") && !pipe.contains("$1:meta"),
        "{pipe}"
    );
    let meta = render(&TableSpec::customers(), &opts);
    for ((n, record_sql), (m, meta_sql)) in scripts.iter().zip(&meta) {
        assert_eq!(n, m);
        if n != name {
            assert_eq!(record_sql, meta_sql, "{n} does not depend on the envelope");
            assert!(!record_sql.contains("META"), "{n} reads META");
        }
    }
}

/// The REST-mode fixture: `sql/tests/rest/03_raw_table_and_pipe.sql` is the pipe script
/// rendered with `--rest-user SNOWPIPE_LOADER` (AUTO_INGEST = FALSE, and the role the REST
/// API needs); `scripts/check_sql.py` parses it with the Snowflake dialect.
#[test]
fn rest_mode_pipe_matches_renderer() {
    let dir = sql_dir().join("tests/rest");
    let opts = RenderOptions {
        rest_user: Some("SNOWPIPE_LOADER".into()),
        ..RenderOptions::default()
    };
    let scripts = render(&TableSpec::customers(), &opts);
    let name = "03_raw_table_and_pipe.sql";
    let pipe = &scripts.iter().find(|(n, _)| n == name).unwrap().1;
    assert!(pipe.contains("AUTO_INGEST = FALSE"), "{pipe}");
    for grant in [
        "GRANT USAGE ON DATABASE SNOWSTREAM TO ROLE CUSTOMERS_SNOWPIPE_REST;",
        "GRANT USAGE ON SCHEMA SNOWSTREAM.RAW TO ROLE CUSTOMERS_SNOWPIPE_REST;",
        "GRANT INSERT, SELECT ON TABLE SNOWSTREAM.RAW.CUSTOMERS_RAW TO ROLE CUSTOMERS_SNOWPIPE_REST;",
        "ALTER USER SNOWPIPE_LOADER SET DEFAULT_ROLE = CUSTOMERS_SNOWPIPE_REST;",
    ] {
        assert!(pipe.contains(grant), "{grant} missing from:\n{pipe}");
    }
    assert!(
        !pipe.contains("SHOW PIPES"),
        "no SQS queue to wire in REST mode"
    );
    // The README's REST section shows the rendered role block, line for line.
    let readme = std::fs::read_to_string(sql_dir().join("../README.md")).unwrap();
    let block = pipe.split("USE ROLE SECURITYADMIN;").nth(1).unwrap();
    let block = block.split("USE ROLE SNOWSTREAM_PIPELINE;").next().unwrap();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            readme.contains(line),
            "README.md lacks the rendered line {line:?}"
        );
    }
    let path = dir.join(name);
    if std::env::var_os("UPDATE_SQL").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, pipe).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == *pipe,
        "{} drifted from the renderer; run UPDATE_SQL=1 cargo test -p warehouse --test it sql_drift",
        path.display()
    );
}
