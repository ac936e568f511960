//! The README's first command, end to end: `snowstream demo` posts a messy change stream
//! (duplicates, reordering, late data, deletes, re-inserts) through the receiver into the
//! local warehouse and exits 0 only when SCD1 and SCD2 equal the generator's oracle.

use std::process::Command;

#[test]
fn demo_matches_the_oracle_in_every_format() {
    for format in ["ndjson", "csv", "flowfile-v3", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_snowstream"))
            .args([
                "demo",
                "--customers",
                "200",
                "--changes",
                "1500",
                "--rate",
                "0",
                "--seed",
                "7",
            ])
            .args(["--format", format, "--batch-max-age", "200ms", "--dir"])
            .arg(dir.path().join("demo"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "demo failed for {format}:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("match the generator's oracle"), "{stdout}");

        // The local warehouse is a plain SQLite file the query command reads.
        let q = Command::new(env!("CARGO_BIN_EXE_snowstream"))
            .args(["query", "--json", "--db"])
            .arg(dir.path().join("demo/warehouse.db"))
            .arg("SELECT count(*) AS n FROM customers_history WHERE is_current = 1")
            .output()
            .unwrap();
        assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
        let row: serde_json::Value = serde_json::from_slice(&q.stdout).unwrap();
        let latest = Command::new(env!("CARGO_BIN_EXE_snowstream"))
            .args(["query", "--json", "--db"])
            .arg(dir.path().join("demo/warehouse.db"))
            .arg("SELECT count(*) AS n FROM customers_latest")
            .output()
            .unwrap();
        let latest: serde_json::Value = serde_json::from_slice(&latest.stdout).unwrap();
        assert_eq!(row["n"], latest["n"], "one current history row per key");
    }
}

#[test]
fn query_refuses_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let ok = Command::new(env!("CARGO_BIN_EXE_snowstream"))
        .args([
            "demo",
            "--customers",
            "20",
            "--changes",
            "50",
            "--rate",
            "0",
            "--dir",
        ])
        .arg(dir.path().join("d"))
        .output()
        .unwrap();
    assert!(ok.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_snowstream"))
        .args(["query", "--db"])
        .arg(dir.path().join("d/warehouse.db"))
        .arg("DELETE FROM customers_latest")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not read-only"));
}
