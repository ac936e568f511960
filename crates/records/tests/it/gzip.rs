//! The capped gunzip: plain, multi-member, corrupt and bomb inputs, streaming and whole.

use std::io::Write;

use records::{Gunzip, GunzipError, gunzip};

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn inflates_one_member_and_several() {
    assert_eq!(gunzip(&gz(b"{\"id\":1}\n"), 100).unwrap(), b"{\"id\":1}\n");
    let mut two = gz(b"a\n");
    two.extend(gz(b"b\n"));
    assert_eq!(gunzip(&two, 100).unwrap(), b"a\nb\n");
    assert_eq!(gunzip(&gz(b""), 0).unwrap(), b"");
}

#[test]
fn exactly_the_limit_is_allowed_one_more_byte_is_not() {
    let data = vec![b'x'; 5000];
    assert_eq!(gunzip(&gz(&data), 5000).unwrap().len(), 5000);
    let err = gunzip(&gz(&data), 4999).unwrap_err();
    assert!(
        matches!(err, GunzipError::TooLarge { limit: 4999 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "over the 4999-byte limit after decompression"
    );
}

#[test]
fn a_bomb_stops_near_the_limit() {
    // 16 MiB of zeros compress to ~16 KiB; with a 1 MiB limit the decoder must give up
    // after inflating little more than the limit, not after the whole bomb.
    let bomb = gz(&vec![0u8; 16 << 20]);
    assert!(bomb.len() < 32 << 10, "{}", bomb.len());
    let limit = 1 << 20;
    let mut gz = Gunzip::new(limit);
    let mut seen = 0u64;
    let err = gz
        .write(&bomb, &mut |piece: &[u8]| -> Result<(), GunzipError> {
            seen += piece.len() as u64;
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, GunzipError::TooLarge { limit: l } if l == limit));
    assert!(seen <= limit, "the sink saw {seen} bytes, over the limit");
    assert!(
        gz.inflated() < limit + (2 << 20),
        "inflated {} bytes before stopping",
        gz.inflated()
    );
}

#[test]
fn corrupt_truncated_empty_and_plain_inputs_are_not_gzip() {
    let good = gz(b"{\"id\":1}\n{\"id\":2}\n");
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0xFF;
    let truncated = good[..good.len() - 6].to_vec();
    for (what, body) in [
        ("plain", b"{\"id\":1}".to_vec()),
        ("flipped byte", flipped),
        ("truncated", truncated),
        ("empty", Vec::new()),
    ] {
        let err = gunzip(&body, 1 << 20).unwrap_err();
        assert!(matches!(err, GunzipError::Corrupt(_)), "{what}: {err:?}");
        assert!(
            err.to_string().starts_with("not valid gzip: "),
            "{what}: {err}"
        );
    }
}

#[derive(Debug)]
enum SinkError {
    Gunzip(GunzipError),
    Full,
}

impl From<GunzipError> for SinkError {
    fn from(e: GunzipError) -> Self {
        SinkError::Gunzip(e)
    }
}

#[test]
fn streaming_in_tiny_chunks_matches_whole_and_sink_errors_stop_it() {
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let zipped = gz(&data);
    let mut gz = Gunzip::new(u64::MAX);
    let mut out = Vec::new();
    let mut sink = |piece: &[u8]| -> Result<(), SinkError> {
        out.extend_from_slice(piece);
        Ok(())
    };
    for chunk in zipped.chunks(7) {
        gz.write(chunk, &mut sink).unwrap();
    }
    assert_eq!(gz.finish(&mut sink).unwrap(), data.len() as u64);
    assert_eq!(out, data);

    let mut gz = Gunzip::new(u64::MAX);
    let err = gz
        .write(&zipped, &mut |_: &[u8]| Err(SinkError::Full))
        .unwrap_err();
    assert!(matches!(err, SinkError::Full), "{err:?}");
    let err = Gunzip::new(u64::MAX)
        .finish(&mut |_: &[u8]| -> Result<(), SinkError> { Ok(()) })
        .unwrap_err();
    assert!(
        matches!(err, SinkError::Gunzip(GunzipError::Corrupt(_))),
        "{err:?}"
    );
}
