//! The golden test of `presence-bench report`: the fixture results directory
//! (`tests/fixtures/report/`) renders to `expected.md` byte for byte, and its pairs run
//! alone to `expected-pairs.md`. On a difference the test prints the lines that differ.

use std::path::Path;
use std::process::Command;

const FIXTURE: &str = "tests/fixtures/report";

/// The page `presence-bench report ARGS` writes, run from the crate's directory.
fn render(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("report")
        .args(args)
        .output()
        .expect("presence-bench runs");
    assert!(
        out.status.success(),
        "presence-bench report failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the page is UTF-8")
}

/// The lines that differ, with line numbers: `-` expected, `+` got.
fn diff(expected: &str, got: &str) -> String {
    let (e, g): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), got.lines().collect());
    let mut out = String::new();
    let mut shown = 0;
    for i in 0..e.len().max(g.len()) {
        let (a, b) = (e.get(i), g.get(i));
        if a == b {
            continue;
        }
        if let Some(a) = a {
            out.push_str(&format!("{:>4} - {a}\n", i + 1));
        }
        if let Some(b) = b {
            out.push_str(&format!("{:>4} + {b}\n", i + 1));
        }
        shown += 1;
        if shown == 40 {
            out.push_str("… (more lines differ)\n");
            break;
        }
    }
    if out.is_empty() && expected != got {
        out.push_str("(the pages differ only in line endings or a trailing newline)\n");
    }
    out
}

fn assert_golden(expected_file: &str, got: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURE)
        .join(expected_file);
    let expected = std::fs::read_to_string(&path).expect("the expected page is there");
    assert!(
        expected == got,
        "the page differs from {}:\n{}",
        path.display(),
        diff(&expected, got)
    );
}

#[test]
fn the_whole_page_renders_as_expected() {
    let page = render(&[
        &format!("{FIXTURE}/run"),
        "--mode",
        "full",
        "--started",
        "2026-12-03 12:00 UTC",
        "--note",
        "A fixture: the numbers are made up.",
        "--criterion",
        &format!("{FIXTURE}/criterion"),
        "--machine",
        &format!("{FIXTURE}/machine.json"),
        "--pairs",
        &format!("{FIXTURE}/pairs"),
    ]);
    assert_golden("expected.md", &page);
}

#[test]
fn the_pairs_section_renders_alone() {
    let page = render(&["--pairs", &format!("{FIXTURE}/pairs")]);
    assert_golden("expected-pairs.md", &page);
}

#[test]
fn the_page_cites_nothing_outside_the_repository() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURE)
            .join("expected.md"),
    )
    .expect("the expected page is there");
    for cited in ["DESIGN.md", "PROTOCOL.md", "TOOLCHAIN.md", "../shared"] {
        assert!(!page.contains(cited), "the page cites {cited}");
    }
}

/// `pairs-summary` writes the `summary.json` pairs.sh's Python block wrote from the same
/// files (`tests/fixtures/report/pairs-summary/`: its inputs, and what it wrote).
#[test]
fn pairs_summary_writes_what_pairs_sh_wrote() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURE)
        .join("pairs-summary");
    let dir = std::env::temp_dir().join(format!(
        "presence-bench-pairs-summary-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    for f in ["pairs.tsv", "measured.tsv", "builds.txt"] {
        std::fs::copy(fixture.join(f), dir.join(f)).expect("the fixture's inputs copy");
    }
    let status = Command::new(env!("CARGO_BIN_EXE_presence-bench"))
        .arg("pairs-summary")
        .arg(&dir)
        .args(["--mode", "quick", "--started", "2026-12-03 10:00 UTC"])
        .args([
            "--checkout",
            "9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d",
            "--wall-s",
            "1385",
        ])
        .args(["--args", "--quick --only=1,2"])
        .args(["--connections", "3000", "--hold-s", "4", "--stage-s", "4"])
        .args(["--typing-rates", "2000,4000", "--churn-rates", "500"])
        .args([
            "--xnode-connections",
            "1200",
            "--xnode-rates",
            "1000",
            "--xnode-stage-s",
            "2",
        ])
        .args(["--probes", "200", "--probe-rate", "50"])
        .status()
        .expect("presence-bench runs");
    assert!(status.success(), "pairs-summary failed");
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).expect("the summary is there"))
            .expect("the summary parses")
    };
    let got = read(&dir.join("summary.json"));
    let expected = read(&fixture.join("expected-summary.json"));
    std::fs::remove_dir_all(&dir).expect("the scratch directory goes");
    assert_eq!(got, expected);
}
