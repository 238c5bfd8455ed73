//! Number and path formatting for the page, spelled the way the page always was: thousands
//! separated by commas, `–` for a missing figure, maps as `{'key': value}`, paths relative
//! to the working directory.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// `digits` decimals and commas between thousands: `12,771.39`.
pub fn num(v: f64, digits: usize) -> String {
    let s = format!("{v:.digits$}");
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", s.as_str()),
    };
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let mut out = String::from(sign);
    out.push_str(&commas(int));
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

/// A whole number with commas: `10,000`.
pub fn int(v: u64) -> String {
    commas(&v.to_string())
}

fn commas(digits: &str) -> String {
    let n = digits.len();
    let mut out = String::with_capacity(n + n / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A count map as the page shows it: `{'1006': 3, 'timeout': 1}`.
pub fn map(m: &BTreeMap<String, u64>) -> String {
    let items: Vec<String> = m
        .iter()
        .map(|(k, v)| format!("{}: {v}", quote(k)))
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// A string in single quotes (double quotes when it holds a single quote and no double
/// quote), backslashes and the chosen quote escaped.
fn quote(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(q);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

fn absolute(path: &Path, cwd: &Path) -> Vec<String> {
    let full = if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut parts: Vec<String> = Vec::new();
    for c in full.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    parts
}

/// `path` relative to the working directory, worked out on the names alone (no symlink is
/// followed): `target/bench/20261203-120000-full`.
pub fn relative(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let to = absolute(path, &cwd);
    let from = absolute(&cwd, &cwd);
    let common = to.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; from.len() - common];
    parts.extend(to[common..].iter().map(String::as_str));
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// The working directory with a trailing `/`, to take out of the commands on the page.
pub fn cwd_prefix() -> String {
    std::env::current_dir()
        .map(|d| format!("{}/", d.display()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_have_commas_and_round_half_to_even() {
        assert_eq!(num(12771.392, 0), "12,771");
        assert_eq!(num(1234567.891, 2), "1,234,567.89");
        assert_eq!(num(999.0, 1), "999.0");
        assert_eq!(num(-1234.5, 0), "-1,234");
        assert_eq!(num(2.5, 0), "2");
        assert_eq!(int(100), "100");
        assert_eq!(int(19480), "19,480");
        assert_eq!(int(1_999_017), "1,999,017");
    }

    #[test]
    fn maps_look_like_the_page_always_showed_them() {
        let mut m = BTreeMap::new();
        assert_eq!(map(&m), "{}");
        m.insert("1006".to_owned(), 3);
        m.insert("it's".to_owned(), 1);
        assert_eq!(map(&m), "{'1006': 3, \"it's\": 1}");
    }

    #[test]
    fn paths_are_relative_to_the_working_directory() {
        let cwd = std::env::current_dir().expect("a working directory");
        assert_eq!(relative(Path::new("a/b/")), "a/b");
        assert_eq!(relative(&cwd.join("x/./y")), "x/y");
        assert_eq!(relative(&cwd), ".");
        let parent = cwd.parent().expect("not the root");
        assert_eq!(relative(&parent.join("z")), "../z");
    }
}
