//! Throughput of the local pipeline: `cargo bench -p warehouse --bench local_pipeline`.
//! Lands N customer change events in zstd NDJSON files, then times the local pipe
//! (load) and the SCD1/SCD2 tasks. Prints rows per second; no assertion on speed.

use std::io::Write;
use std::time::Instant;

use warehouse::{TableSpec, Warehouse};

const ROWS: usize = 200_000;
const PER_FILE: usize = 5_000;
const KEYS: usize = 20_000;

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let landing = tmp.path().join("landing");
    let dir = landing.join("customers/dt=2026-11-24/hh=13");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for f in 0..ROWS / PER_FILE {
        let mut text = Vec::new();
        for i in 0..PER_FILE {
            let seq = f * PER_FILE + i;
            let id = (seq * 7919) % KEYS + 1;
            let ms = seq % 1000;
            let s = seq / 1000;
            let op = if seq.is_multiple_of(11) { "D" } else { "U" };
            writeln!(
                text,
                "{{\"record\":{{\"id\":{id},\"name\":\"N{seq}\",\"phone_number\":\"1\",\"email\":\"e@x\",\"address\":\"a\\nb\",\"country\":\"NZ\",\"job\":\"J\",\"updated_at\":\"2026-11-24T{:02}:{:02}:{:02}.{ms:03}Z\",\"op\":\"{op}\"}},\"meta\":{{\"seq\":{}}}}}",
                s / 3600 % 24,
                s / 60 % 60,
                s % 60,
                seq + 1
            )
            .expect("write");
        }
        let name = format!("ss-1-{:020}.ndjson.zst", f * PER_FILE + 1);
        std::fs::write(
            dir.join(name),
            zstd::encode_all(text.as_slice(), 3).expect("zstd"),
        )
        .expect("write file");
    }
    let mut wh = Warehouse::open(&tmp.path().join("wh.db"), &TableSpec::customers()).expect("open");
    let t = Instant::now();
    let load = wh.load_new_files(&landing).expect("load");
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let tasks = wh.run_tasks().expect("tasks");
    let task_s = t.elapsed().as_secs_f64();
    println!(
        "load: {} rows in {load_s:.2}s ({:.0} rows/s); tasks: {} versions in {task_s:.2}s ({:.0} rows/s); {:?}",
        load.rows_loaded,
        load.rows_loaded as f64 / load_s,
        tasks.history_versions_inserted,
        ROWS as f64 / task_s,
        wh.counts().expect("counts")
    );
}
