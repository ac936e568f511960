//! Local-folder sink: real files in a temp dir. Runs the sink conformance suite, then what
//! only a local folder does (absolute root, temp files, concurrent readers).

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use landing::sink::local::is_temp_file_name;
use landing::sink::{LocalSink, Put, Sink};

use crate::support::{conformance, pattern};

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(entry.path());
            } else {
                let rel = entry.path().strip_prefix(dir).unwrap().to_owned();
                out.push(rel.to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// A local sink rooted at `<temp>/landing`, with `<temp>` as scratch space.
struct Local {
    dir: tempfile::TempDir,
    sink: LocalSink,
}

impl Local {
    fn new() -> Local {
        let dir = tempfile::tempdir().unwrap();
        let sink = LocalSink::new(dir.path().join("landing")).unwrap();
        Local { dir, sink }
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("landing")
    }
}

impl conformance::Backend for Local {
    type Sink = LocalSink;
    fn sink(&self) -> &LocalSink {
        &self.sink
    }
    fn scratch(&self) -> &Path {
        self.dir.path()
    }
    async fn read(&self, key: &str) -> Option<Vec<u8>> {
        fs::read(self.root().join(key)).ok()
    }
    async fn keys(&self) -> Vec<String> {
        files_under(&self.root())
    }
}

/// Tests that each run one conformance check on a fresh local sink.
macro_rules! conformance_tests {
    ($($test:ident => $check:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            conformance::$check(&Local::new()).await;
        }
    )*};
}

conformance_tests!(
    put_bytes_creates_partition_folders_and_leaves_no_temp_files => put_bytes_round_trips,
    empty_file_round_trips => empty_file_round_trips,
    neighbouring_keys_stay_apart => neighbouring_keys_stay_apart,
);

#[tokio::test]
async fn put_file_copies_content_byte_for_byte() {
    let b = Local::new();
    conformance::put_file_copies_byte_for_byte(&b, 3 * 1024 * 1024 + 17).await;
    // The sink's root is where the files are.
    assert_eq!(fs::canonicalize(b.root()).unwrap(), b.sink.root());
}

#[tokio::test]
async fn never_replaces_an_object() {
    conformance::never_replaces_an_object(&Local::new(), 3 * 1024 * 1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_put_lands_whole_at_commit_and_never_replaces() {
    let b = Local::new();
    conformance::staged_put_lands_whole_at_commit_and_never_replaces(&b, 3 * 1024 * 1024 + 5).await;
    // The dropped staging's temp file went with it; no temp file is left anywhere.
    let names = files_under(&b.root());
    assert!(
        !names.iter().any(|n| n.contains(".tmp-")),
        "temp files left: {names:?}"
    );
}

/// The temp file of a staged put is in the key's folder of the sink (never where the body
/// comes from, which may be a full spool disk), hidden as a temp file, until the commit.
#[tokio::test]
async fn a_staged_body_is_written_beside_its_key() {
    let b = Local::new();
    let mut staged = b.sink.stage(conformance::KEY).await.unwrap();
    conformance::write_in_chunks(&mut staged, &pattern(100_000, 9)).await;
    let names = files_under(&b.root());
    assert_eq!(names.len(), 1, "{names:?}");
    let (dir, name) = names[0].rsplit_once('/').unwrap();
    assert_eq!(Some(dir), conformance::KEY.rsplit_once('/').map(|(d, _)| d));
    assert!(is_temp_file_name(name), "{name}");
    let put = landing::sink::commit(&b.sink, staged).await.unwrap();
    assert_eq!(put, Put::Created);
    assert_eq!(files_under(&b.root()), vec![conformance::KEY.to_owned()]);
}

#[tokio::test]
async fn refuses_bad_keys_without_writing_anything() {
    let b = Local::new();
    conformance::refuses_bad_keys_without_storing_anything(&b).await;
    assert!(!b.dir.path().join("escape").exists());
}

#[tokio::test]
async fn missing_source_file_is_a_clear_permanent_error() {
    let text = conformance::missing_source_file_is_a_clear_permanent_error(&Local::new()).await;
    assert!(text.contains("local:"), "{text}");
    assert!(text.contains("open the source file"), "{text}");
}

#[test]
fn describe_names_the_absolute_root() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalSink::new(dir.path()).unwrap();
    let described = sink.describe();
    let path = described.strip_prefix("local:").unwrap();
    assert!(Path::new(path).is_absolute(), "{described}");
    assert_eq!(Path::new(path), fs::canonicalize(dir.path()).unwrap());
}

#[test]
fn root_that_is_a_file_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    let err = LocalSink::new(&file).unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("landing folder"), "{err}");
}

#[tokio::test]
async fn leftover_temp_files_are_hidden_and_cleaned() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalSink::new(dir.path()).unwrap();
    let put = sink.put_bytes("s/dt=1/f.ndjson.zst", Bytes::from_static(b"data"));
    assert_eq!(put.await.unwrap(), Put::Created);
    // What a crash between create and link leaves behind.
    let leftover = dir
        .path()
        .join("s/dt=1/.f2.ndjson.zst.tmp-0123456789abcdef");
    fs::write(&leftover, b"partial").unwrap();
    let data_files: Vec<_> = files_under(dir.path())
        .into_iter()
        .filter(|f| !is_temp_file_name(Path::new(f).file_name().unwrap().to_str().unwrap()))
        .collect();
    assert_eq!(data_files, vec!["s/dt=1/f.ndjson.zst".to_owned()]);
    assert_eq!(sink.clean_temp_files().unwrap(), 1);
    assert!(!leftover.exists());
    assert_eq!(
        files_under(dir.path()),
        vec!["s/dt=1/f.ndjson.zst".to_owned()]
    );
    assert_eq!(sink.clean_temp_files().unwrap(), 0);
}

/// A reader polling keys while they are created only ever finds no file or the whole
/// content, never a truncated one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_never_see_a_partial_object() {
    let dir = tempfile::tempdir().unwrap();
    let sink = LocalSink::new(dir.path()).unwrap();
    let a = Bytes::from(pattern(512 * 1024, 1));
    let b = Bytes::from(pattern(700 * 1024, 2));
    let keys: Vec<String> = (0..60)
        .map(|i| format!("s/dt=1/f{i:02}.ndjson.zst"))
        .collect();
    let content = |i: usize| {
        if i.is_multiple_of(2) {
            b.clone()
        } else {
            a.clone()
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (paths, stop) = (
            keys.iter().map(|k| dir.path().join(k)).collect::<Vec<_>>(),
            stop.clone(),
        );
        let (a, b) = (a.clone(), b.clone());
        std::thread::spawn(move || {
            let (mut reads, mut whole) = (0u32, 0u32);
            while !stop.load(Ordering::Relaxed) && reads < 1_000_000 {
                for (i, path) in paths.iter().enumerate() {
                    let Ok(got) = fs::read(path) else { continue };
                    let want = if i.is_multiple_of(2) { &b } else { &a };
                    assert!(got[..] == want[..], "partial read of {} bytes", got.len());
                    whole += 1;
                }
                reads += 1;
            }
            (reads, whole)
        })
    };
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(sink.put_bytes(key, content(i)).await.unwrap(), Put::Created);
    }
    // Let the reader observe the final state at least once.
    std::thread::sleep(std::time::Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    let (reads, whole) = reader.join().unwrap();
    assert!(reads > 0 && whole > 0, "the reader never saw a whole file");
    assert_eq!(files_under(dir.path()), keys);
}
