//! What every [`Sink`] must do, written once and run by each backend's test file (as
//! arrow-rs `object_store` runs its `integration` module against every store). A backend
//! provides a [`Backend`]: the sink plus a way to look at what it stored, the way a reader of
//! the landing area would. Backend-specific behaviour stays in the backend's own file.

use std::path::Path;

use bytes::Bytes;
use landing::sink::{Once, Put, Sink, Staging, commit, put_once};

use super::pattern;

/// A partitioned key like the ones landing writes.
pub const KEY: &str = "customers/dt=2026-11-24/hh=13/ss-1-00000000000000000001.ndjson.zst";

/// Keys no sink may accept.
pub const BAD_KEYS: &[&str] = &[
    "",
    "/etc/passwd",
    "../escape",
    "a/../../escape",
    "a//b",
    "a/",
    "./a",
];

/// A sink under test, and what the suite needs to look behind it.
pub trait Backend {
    /// The sink under test.
    type Sink: Sink;
    /// The sink under test.
    fn sink(&self) -> &Self::Sink;
    /// A folder outside the sink for source files.
    fn scratch(&self) -> &Path;
    /// The object stored under `key`, as a reader of the landing area gets it.
    async fn read(&self, key: &str) -> Option<Vec<u8>>;
    /// Everything the sink holds, as sorted keys (nothing hidden: a leftover temp object
    /// shows up too).
    async fn keys(&self) -> Vec<String>;
}

/// A small body lands under a key with partition "folders", and nothing else is left.
pub async fn put_bytes_round_trips(b: &impl Backend) {
    let manifest = format!("{KEY}.manifest.json");
    let put = b
        .sink()
        .put_bytes(&manifest, Bytes::from_static(b"{\"records\":3}"));
    assert_eq!(put.await.unwrap(), Put::Created);
    assert_eq!(
        b.read(&manifest).await.as_deref(),
        Some(&b"{\"records\":3}"[..])
    );
    assert_eq!(b.keys().await, vec![manifest]);
}

/// A file of `len` bytes is stored byte for byte, and its source is left alone.
pub async fn put_file_copies_byte_for_byte(b: &impl Backend, len: usize) {
    let source = b.scratch().join("batch.bin");
    let content = pattern(len, 1);
    std::fs::write(&source, &content).unwrap();
    assert_eq!(b.sink().put_file(KEY, &source).await.unwrap(), Put::Created);
    assert!(
        b.read(KEY).await == Some(content.clone()),
        "content differs"
    );
    assert!(std::fs::read(&source).unwrap() == content, "source changed");
    assert_eq!(b.keys().await, vec![KEY.to_owned()]);
}

/// An empty file is stored as an empty object.
pub async fn empty_file_round_trips(b: &impl Backend) {
    let empty = b.scratch().join("empty");
    std::fs::write(&empty, b"").unwrap();
    let put = b.sink().put_file("customers/empty", &empty).await;
    assert_eq!(put.unwrap(), Put::Created);
    assert_eq!(b.read("customers/empty").await.as_deref(), Some(&b""[..]));
    assert_eq!(b.keys().await, vec!["customers/empty".to_owned()]);
}

/// A put never replaces an object, whichever way either was put: it reports
/// [`Put::Exists`] and leaves the object as it was; the first is a `big`-byte file (multipart
/// for an S3 sink set up so). `put_once` tells the same object put again from another one.
pub async fn never_replaces_an_object(b: &impl Backend, big: usize) {
    let key = "s/k.ndjson.zst";
    let source = b.scratch().join("big");
    let big = pattern(big, 3);
    std::fs::write(&source, &big).unwrap();
    assert_eq!(b.sink().get(key).await.unwrap(), None);
    assert_eq!(b.sink().put_file(key, &source).await.unwrap(), Put::Created);
    assert!(
        b.read(key).await == Some(big.clone()),
        "big content differs"
    );

    let short = Bytes::from_static(b"short");
    assert_eq!(
        b.sink().put_bytes(key, short.clone()).await.unwrap(),
        Put::Exists
    );
    std::fs::write(&source, b"small file").unwrap();
    assert_eq!(b.sink().put_file(key, &source).await.unwrap(), Put::Exists);
    assert!(
        b.read(key).await == Some(big.clone()),
        "the object was replaced"
    );
    assert!(b.sink().get(key).await.unwrap().as_deref() == Some(&big[..]));

    // The same bytes again: the same object. Other bytes: a collision, nothing replaced.
    let again = put_once(b.sink(), key, Bytes::from(big.clone()), |_| false).await;
    assert_eq!(again.unwrap(), Once::Same);
    let other = put_once(b.sink(), key, short.clone(), |_| false)
        .await
        .unwrap();
    assert!(
        other == Once::Collision(Bytes::from(big.clone())),
        "want a collision"
    );
    // Other bytes the caller accepts as the same content.
    let accepted = put_once(b.sink(), key, short, |there| there.len() == big.len()).await;
    assert_eq!(accepted.unwrap(), Once::Same);
    assert!(b.read(key).await == Some(big), "the object was replaced");
    assert_eq!(b.keys().await, vec![key.to_owned()]);
}

/// Keys that share prefixes or differ by a suffix are distinct objects.
pub async fn neighbouring_keys_stay_apart(b: &impl Backend) {
    let keys = [
        "s/dt=1/a",
        "s/dt=1/a.manifest.json",
        "s/dt=1/ab",
        "s/dt=2/a",
        "t/a",
    ];
    for (i, key) in keys.iter().enumerate() {
        let seed = u32::try_from(i).unwrap();
        let put = b
            .sink()
            .put_bytes(key, Bytes::from(pattern(1000 + i, seed)));
        assert_eq!(put.await.unwrap(), Put::Created);
    }
    for (i, key) in keys.iter().enumerate() {
        let seed = u32::try_from(i).unwrap();
        assert_eq!(b.read(key).await, Some(pattern(1000 + i, seed)), "{key}");
    }
    assert_eq!(b.keys().await, keys.map(str::to_owned).to_vec());
}

/// Bad keys are refused as permanent errors that name the key, and nothing is stored.
pub async fn refuses_bad_keys_without_storing_anything(b: &impl Backend) {
    let source = b.scratch().join("src");
    std::fs::write(&source, b"data").unwrap();
    for &key in BAD_KEYS {
        let err = b
            .sink()
            .put_bytes(key, Bytes::from_static(b"x"))
            .await
            .unwrap_err();
        assert!(!err.is_retryable(), "{key:?}: {err}");
        let text = err.to_string();
        assert!(text.contains(&format!("{key:?}")), "{text}");
        assert!(text.contains("invalid sink key"), "{text}");
        let err = b.sink().put_file(key, &source).await.unwrap_err();
        assert!(!err.is_retryable(), "{key:?}: {err}");
        assert!(err.to_string().contains("invalid sink key"), "{err}");
    }
    assert!(b.keys().await.is_empty());
}

/// A missing source file is a permanent error naming the sink and the key; nothing is stored.
pub async fn missing_source_file_is_a_clear_permanent_error(b: &impl Backend) -> String {
    let err = b
        .sink()
        .put_file("k/v.ndjson.zst", &b.scratch().join("nope"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!err.is_retryable(), "{text}");
    assert!(
        text.contains("k/v.ndjson.zst") && text.contains(&b.sink().describe()),
        "{text}"
    );
    assert!(b.keys().await.is_empty());
    text
}

/// Writes `content` into `staged` in pieces of 1 MiB (as the lander's encoder hands them over).
pub async fn write_in_chunks(staged: &mut Box<dyn Staging>, content: &[u8]) {
    for chunk in content.chunks(1 << 20) {
        staged.write(Bytes::copy_from_slice(chunk)).await.unwrap();
    }
}

/// Everything `read_each` hands over for `key`, in order (`None`: no object).
pub async fn read_in_pieces(sink: &impl Sink, key: &str) -> Option<Vec<u8>> {
    let mut back = Vec::new();
    let found = sink
        .read_each(key, &mut |piece: &[u8]| back.extend_from_slice(piece))
        .await
        .unwrap();
    found.then_some(back)
}

/// A staged body of `len` bytes (written in pieces; multipart for an S3 sink whose part is
/// smaller) is invisible until its commit, then there whole; staged again over that object,
/// big or small, it is [`Put::Exists`] and replaces nothing; an aborted staging leaves
/// nothing. `read_each` hands the object back in order.
pub async fn staged_put_lands_whole_at_commit_and_never_replaces(b: &impl Backend, len: usize) {
    let content = pattern(len, 5);
    let mut staged = b.sink().stage(KEY).await.unwrap();
    assert_eq!(staged.key(), KEY);
    write_in_chunks(&mut staged, &content).await;
    assert_eq!(b.read(KEY).await, None, "visible before the commit");
    assert_eq!(commit(b.sink(), staged).await.unwrap(), Put::Created);
    assert!(
        b.read(KEY).await == Some(content.clone()),
        "content differs"
    );
    assert_eq!(b.keys().await, vec![KEY.to_owned()]);
    assert!(read_in_pieces(b.sink(), KEY).await == Some(content.clone()));
    assert_eq!(read_in_pieces(b.sink(), "customers/none").await, None);

    for other in [pattern(len, 6), b"short".to_vec()] {
        let mut again = b.sink().stage(KEY).await.unwrap();
        write_in_chunks(&mut again, &other).await;
        assert_eq!(commit(b.sink(), again).await.unwrap(), Put::Exists);
        assert!(b.read(KEY).await == Some(content.clone()), "replaced");
    }
    assert_eq!(b.keys().await, vec![KEY.to_owned()]);

    let next = "customers/dt=2026-11-24/hh=13/ss-1-00000000000000000002.ndjson.zst";
    let mut aborted = b.sink().stage(next).await.unwrap();
    write_in_chunks(&mut aborted, &content).await;
    aborted.abort().await;
    assert_eq!(b.read(next).await, None);
    assert_eq!(
        b.keys().await,
        vec![KEY.to_owned()],
        "the abort left something"
    );

    // Dropped without commit or abort (a cancelled task): nothing is visible either.
    let mut dropped = b.sink().stage(next).await.unwrap();
    write_in_chunks(&mut dropped, &content[..len.min(1 << 20)]).await;
    drop(dropped);
    assert_eq!(b.read(next).await, None);

    // An empty body is an empty object.
    let empty = b.sink().stage("customers/empty").await.unwrap();
    assert_eq!(commit(b.sink(), empty).await.unwrap(), Put::Created);
    assert_eq!(b.read("customers/empty").await.as_deref(), Some(&b""[..]));
}
