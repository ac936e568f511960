//! After the run: what actually landed. Reads every manifest, decompresses every data file
//! and counts its lines, and checks the sequence ranges tile `1..=N` with no gap or overlap.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use records::landed::{self, Manifest};

/// Totals of a landing folder.
#[derive(Debug, Default)]
pub struct Landed {
    pub files: u64,
    /// Sum of the manifests' `records`.
    pub manifest_records: u64,
    /// Lines counted in the decompressed data files.
    pub lines: u64,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
    /// Problems found (sequence gaps/overlaps, manifest/line mismatches, orphans).
    pub problems: Vec<String>,
}

struct FileInfo {
    data: PathBuf,
    records: u64,
    first_seq: u64,
    last_seq: u64,
}

/// Scans `root` (a local sink's folder). Line counting uses up to `threads` threads.
pub fn scan(root: &Path, threads: usize) -> Result<Landed> {
    let mut landed = Landed::default();
    let mut manifests = Vec::new();
    let mut data_files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.file_type()?.is_dir() {
                dirs.push(path);
            } else if landed::data_key_of_manifest(&name).is_some() {
                manifests.push(path);
            } else if landed::is_data_file(&name) {
                data_files.push(path);
            }
        }
    }

    let mut infos = Vec::new();
    for m in &manifests {
        let manifest: Manifest = serde_json::from_slice(
            &fs::read(m).with_context(|| format!("reading {}", m.display()))?,
        )
        .with_context(|| format!("parsing {}", m.display()))?;
        let name = m.to_string_lossy();
        let data = PathBuf::from(landed::data_key_of_manifest(&name).expect("a manifest's name"));
        landed.manifest_records += manifest.records;
        landed.uncompressed_bytes += manifest.uncompressed_bytes;
        landed.compressed_bytes += manifest.bytes;
        infos.push(FileInfo {
            data,
            records: manifest.records,
            first_seq: manifest.first_seq,
            last_seq: manifest.last_seq,
        });
    }
    landed.files = infos.len() as u64;
    for d in &data_files {
        if !infos.iter().any(|i| &i.data == d) {
            landed
                .problems
                .push(format!("{} has no manifest", d.display()));
        }
    }

    infos.sort_by_key(|i| i.first_seq);
    let mut expect = 1;
    for i in &infos {
        if i.first_seq != expect {
            landed.problems.push(format!(
                "{}: first_seq {} but the previous file ended at {}",
                i.data.display(),
                i.first_seq,
                expect - 1
            ));
        }
        if i.last_seq + 1 - i.first_seq != i.records {
            landed.problems.push(format!(
                "{}: seq {}..={} but {} records",
                i.data.display(),
                i.first_seq,
                i.last_seq,
                i.records
            ));
        }
        expect = i.last_seq + 1;
    }

    // Decompress and count lines, files split across threads.
    let threads = threads.clamp(1, infos.len().max(1));
    let results: Vec<Result<Vec<(usize, u64)>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let infos = &infos;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    for (n, info) in infos.iter().enumerate().skip(t).step_by(threads) {
                        out.push((n, count_lines(&info.data)?));
                    }
                    Ok(out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("line counter panicked"))
            .collect()
    });
    for r in results {
        for (n, lines) in r? {
            landed.lines += lines;
            if lines != infos[n].records {
                landed.problems.push(format!(
                    "{}: {} lines but its manifest says {} records",
                    infos[n].data.display(),
                    lines,
                    infos[n].records
                ));
            }
        }
    }
    Ok(landed)
}

fn count_lines(path: &Path) -> Result<u64> {
    let lines = landed::open(path).and_then(landed::LandedFile::count_lines)?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn land(dir: &Path, name: &str, first: u64, lines: &[&str], manifest_records: u64) {
        let mut text = String::new();
        for l in lines {
            text.push_str(l);
            text.push('\n');
        }
        let data = dir.join(name);
        fs::write(&data, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
        let manifest = Manifest {
            key: name.into(),
            stream: "customers".into(),
            instance: "b".into(),
            records: manifest_records,
            first_seq: first,
            last_seq: first + manifest_records - 1,
            uncompressed_bytes: text.len() as u64,
            bytes: 10,
            sha256: String::new(),
            compression: landed::Codec::Zstd,
            created_at: landed::format_time(0),
            envelope: landed::Envelope::Meta,
        };
        fs::write(
            dir.join(landed::manifest_key(name)),
            serde_json::to_vec(&manifest).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn counts_lines_and_accepts_contiguous_sequences() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("customers/dt=2026-11-24/hh=14");
        fs::create_dir_all(&sub).unwrap();
        land(&sub, "b-1.ndjson.zst", 1, &["{}", "{}"], 2);
        land(&sub, "b-3.ndjson.zst", 3, &["{}", "{}", "{}"], 3);
        let l = scan(dir.path(), 2).unwrap();
        assert_eq!((l.files, l.manifest_records, l.lines), (2, 5, 5));
        assert!(l.problems.is_empty(), "{:?}", l.problems);
    }

    #[test]
    fn reports_gaps_and_line_mismatches() {
        let dir = tempfile::tempdir().unwrap();
        land(dir.path(), "b-1.ndjson.zst", 1, &["{}", "{}"], 2);
        land(dir.path(), "b-5.ndjson.zst", 5, &["{}"], 2);
        fs::write(dir.path().join("orphan.ndjson.zst"), b"").unwrap();
        let l = scan(dir.path(), 1).unwrap();
        assert_eq!(l.lines, 3);
        assert_eq!(l.problems.len(), 3, "{:?}", l.problems);
    }
}
