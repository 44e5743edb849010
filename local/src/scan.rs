//! The secret scan: every value the secret ever held, looked for in every log line and report file the
//! stack wrote (the authorizer's, the rotator's and the backend's logs, the load and metrics reports, the
//! outcome). One occurrence anywhere is a leak.
//!
//! What it reports names the file, the line and which of the values matched (its position in the list
//! it was given), never the value itself: the scan's own output goes to the summary and to
//! `outcome.json`, where a value would be a leak of its own.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Error;

/// What the scan looked at and what it found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SecretScan {
    /// How many distinct values were looked for (every version's value).
    pub values: usize,
    /// The files read: their names and sizes.
    pub files: Vec<ScannedFile>,
    /// Lines scanned, over all files.
    pub lines: u64,
    /// Every line holding a value.
    pub findings: Vec<Finding>,
}

/// One file the scan read.
#[derive(Debug, Clone, Serialize)]
pub struct ScannedFile {
    /// The file's name (or the label of a text scanned in memory).
    pub name: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// A line holding one of the values. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file.
    pub file: String,
    /// The line number, from 1.
    pub line: usize,
    /// Which value: its index in the list the scan was given.
    pub value_index: usize,
}

impl SecretScan {
    /// No value found anywhere, and there was something to look for: a scan with no values or no files
    /// proves nothing and does not count as clean.
    pub fn clean(&self) -> bool {
        self.findings.is_empty() && self.values > 0 && !self.files.is_empty()
    }

    /// Scans `text` (from a file named `name`) for `values`, adding what it finds. Empty values are
    /// skipped (they would match everything).
    pub fn scan_text(&mut self, name: &str, text: &str, values: &[String]) {
        self.files.push(ScannedFile {
            name: name.to_owned(),
            bytes: text.len() as u64,
        });
        for (n, line) in text.lines().enumerate() {
            self.lines += 1;
            for (index, value) in values.iter().enumerate() {
                if !value.is_empty() && line.contains(value.as_str()) {
                    self.findings.push(Finding {
                        file: name.to_owned(),
                        line: n + 1,
                        value_index: index,
                    });
                }
            }
        }
    }

    /// One line for the summary.
    pub fn summary(&self) -> String {
        let verdict = if self.clean() {
            "none found".to_owned()
        } else if self.findings.is_empty() {
            "NOTHING SCANNED".to_owned()
        } else {
            let first: Vec<String> = self
                .findings
                .iter()
                .take(5)
                .map(|f| format!("{}:{} (value #{})", f.file, f.line, f.value_index + 1))
                .collect();
            format!("FOUND {} times: {}", self.findings.len(), first.join(", "))
        };
        format!(
            "secret scan: {} values the secret held, looked for in {} lines of {} files ({}): {verdict}",
            self.values,
            self.lines,
            self.files.len(),
            self.files
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )
    }
}

/// Scans every file in `paths` for `values` (duplicates among the values are looked for once).
pub fn scan_files(paths: &[PathBuf], values: &[String]) -> Result<SecretScan, Error> {
    let mut distinct: Vec<String> = Vec::with_capacity(values.len());
    for v in values {
        if !v.is_empty() && !distinct.contains(v) {
            distinct.push(v.clone());
        }
    }
    let mut scan = SecretScan {
        values: distinct.len(),
        ..SecretScan::default()
    };
    for path in paths {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        // Lossy: a value is ASCII, so it is found whatever else the file holds.
        scan.scan_text(&file_name(path), &String::from_utf8_lossy(&bytes), &distinct);
    }
    Ok(scan)
}

/// Every regular file directly in `dir`, sorted: the logs and reports the stack wrote there.
pub fn files_in(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let io = |source| Error::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixtures shaped like the secret's values (32 alphanumerics); not secrets.
    const HELD: [&str; 2] = [
        "AbCdEfGhIjKlMnOpQrStUvWxYz012345",
        "ZyXwVuTsRqPoNmLkJiHgFeDcBa543210",
    ];

    fn held() -> Vec<String> {
        HELD.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn a_value_anywhere_in_a_line_is_found_and_located_without_being_repeated() {
        let log = format!(
            "INFO start\nTRACE raw JSON event received from Lambda body=\"{{\\\"x-origin-verify\\\":\\\"{}\\\"}}\"\nINFO done {}\n",
            HELD[1], HELD[0]
        );
        let mut scan = SecretScan {
            values: 2,
            ..SecretScan::default()
        };
        scan.scan_text("backend.log", &log, &held());
        assert!(!scan.clean());
        assert_eq!(
            scan.findings,
            [
                Finding {
                    file: "backend.log".into(),
                    line: 2,
                    value_index: 1
                },
                Finding {
                    file: "backend.log".into(),
                    line: 3,
                    value_index: 0
                },
            ]
        );
        let shown = format!(
            "{} {:?} {}",
            scan.summary(),
            scan,
            serde_json::to_string(&scan).unwrap()
        );
        assert!(shown.contains("backend.log:2"), "{shown}");
        for value in HELD {
            assert!(
                !shown.contains(value),
                "the scan's output repeats a value: {shown}"
            );
        }
    }

    #[test]
    fn files_are_scanned_and_nothing_to_look_for_is_not_clean() {
        let dir = std::env::temp_dir().join(format!("origin-verify-scan-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.log"), "nothing here\n").unwrap();
        std::fs::write(dir.join("report.json"), format!("{{\"v\":\"{}\"}}", HELD[0])).unwrap();
        let files = files_in(&dir).unwrap();
        assert_eq!(files.len(), 2);

        let scan = scan_files(&files, &held()).unwrap();
        assert_eq!((scan.values, scan.lines), (2, 2));
        assert_eq!(
            scan.findings,
            [Finding {
                file: "report.json".into(),
                line: 1,
                value_index: 0
            }]
        );
        assert!(!scan.clean());

        let clean = scan_files(&files[..1], &held()).unwrap();
        assert!(clean.clean(), "{clean:?}");
        // Nothing to look for, or nowhere to look: proves nothing.
        assert!(!scan_files(&files, &[String::new()]).unwrap().clean());
        assert!(!scan_files(&[], &held()).unwrap().clean());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
