//! The controller's shape, checked on every `make test` (the rules are in the module doc of
//! `src/controller/mod.rs`):
//! - `controller::decide` is pure: no async, no Kubernetes or Talkturo client, no `Context`, no
//!   clock, and nothing of `io`, `reconcile` or the account (which holds a client);
//! - no two modules of the same parent import each other, directly or around a circle;
//! - no source file is longer than 400 lines (tests live in files of their own).
//!
//! Function length and argument counts are clippy's (`clippy.toml`, denied in `Cargo.toml`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 400;

/// Every `.rs` file under `dir`, as (path relative to the operator's `src/`, or to the project
/// for the other crates' files, text).
fn sources(dir: &Path) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = if dir.starts_with(root.join("src")) {
        root.join("src")
    } else {
        root.to_path_buf()
    };
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.strip_prefix(&src).unwrap().to_path_buf(), text));
            }
        }
    }
    out.sort();
    out
}

fn src(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(sub)
}

/// A test file: `tests.rs`, `*_tests.rs`, or anything in a `tests/` directory.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_stem().unwrap().to_string_lossy();
    name == "tests"
        || name.ends_with("_tests")
        || path.components().any(|c| c.as_os_str() == "tests")
}

/// The code of a file without comments and without its `#[cfg(test)]` part.
fn code(text: &str) -> String {
    text.lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn no_source_file_is_longer_than_400_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The operator's sources, and those of the workspace's other crates (`crates/*/src`).
    let crates: Vec<(PathBuf, String)> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .flat_map(|c| sources(&c.unwrap().path().join("src")))
        .collect();
    assert!(crates.len() > 10, "the workspace's crates were not found");
    let long: Vec<String> = sources(&src(""))
        .into_iter()
        .chain(crates)
        .filter(|(p, _)| !is_test_file(p))
        .filter(|(_, t)| t.lines().count() > MAX_LINES)
        .map(|(p, t)| format!("{} ({} lines)", p.display(), t.lines().count()))
        .collect();
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:#?}");
}

/// What `decide` may not mention: each is I/O, the clock, or a way to them.
const IMPURE: &[&str] = &[
    "async ",
    ".await",
    "kube::Client",
    "kube::api",
    "Api<",
    "Context",
    "::now()",
    "Instant",
    "SystemTime",
    "tokio",
    "reqwest",
    "talkturo::Client",
    "Account",
    "controller::io",
    "controller::reconcile",
    "controller::account",
    "controller::run",
    "super::io",
    "super::reconcile",
    "super::account",
    "super::super",
    "Recorder",
    "std::env",
    "std::fs",
];

/// Whether `line` mentions `word`: as a whole identifier when the word is one (`Account`, not
/// `AccountStatus`), else anywhere.
fn mentions(line: &str, word: &str) -> bool {
    let ident = |c: char| c.is_alphanumeric() || c == '_';
    if !word.chars().all(ident) {
        return line.contains(word);
    }
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

#[test]
fn decide_imports_no_client_no_context_and_no_clock() {
    let files = sources(&src("controller/decide"));
    assert!(files.len() > 5, "controller/decide has its modules");
    let mut found = Vec::new();
    for (path, text) in files.iter().filter(|(p, _)| !is_test_file(p)) {
        let code = code(text);
        for word in IMPURE {
            for (n, line) in code.lines().enumerate() {
                if mentions(line, word) {
                    found.push(format!(
                        "{}:{}: {word:?} in {line:?}",
                        path.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(found.is_empty(), "decide is pure: {found:#?}");
}

/// The check itself: an impure line is found, a pure one is not.
#[test]
fn the_purity_check_sees_a_clock_and_a_client() {
    let hits = |line: &str| IMPURE.iter().any(|w| mentions(&code(line), w));
    assert!(hits("let now = Timestamp::now();"));
    assert!(hits("fn f(ctx: &Context) {}"));
    assert!(hits("use kube::api::Api;"));
    assert!(hits("async fn f() {}"));
    assert!(!hits(
        "pub fn plan(pn: &PhoneNumber, now: Timestamp) -> Plan {"
    ));
    assert!(!hits("// Context is not used here"));
    assert!(hits("let a: &Account = x;"));
    assert!(!hits("status.account = Some(AccountStatus::default());"));
}

/// `use` trees expanded: `use super::{a, b::{c, d}};` → `super::a`, `super::b::c`, `super::b::d`.
fn expand(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        return vec![tree.split(" as ").next().unwrap().trim().to_owned()];
    };
    let prefix = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap()];
    let (mut parts, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .flat_map(expand)
        .map(|p| format!("{prefix}{p}"))
        .map(|p| p.trim_end_matches("::self").to_owned())
        .collect()
}

/// Every module path a file mentions: its `use` trees and inline `super::`/`crate::` paths.
fn paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let flat = code.replace('\n', " ");
    for stmt in flat.split(';') {
        let s = stmt.trim();
        let s = s.strip_prefix("pub ").unwrap_or(s);
        let s = s.strip_prefix("pub(crate) ").unwrap_or(s);
        let s = s.strip_prefix("pub(super) ").unwrap_or(s);
        if let Some(tree) = s.strip_prefix("use ") {
            out.extend(expand(tree));
        }
    }
    let bytes: Vec<char> = flat.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..].iter().take(7).collect();
        let boundary = i == 0
            || !(bytes[i - 1].is_alphanumeric() || bytes[i - 1] == '_' || bytes[i - 1] == ':');
        if boundary && (rest.starts_with("super::") || rest.starts_with("crate::")) {
            let mut j = i;
            while j < bytes.len()
                && (bytes[j].is_alphanumeric() || bytes[j] == '_' || bytes[j] == ':')
            {
                j += 1;
            }
            out.push(
                bytes[i..j]
                    .iter()
                    .collect::<String>()
                    .trim_end_matches(':')
                    .to_owned(),
            );
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// The module a file is (`controller/reconcile/claim.rs` → `["controller", "reconcile", "claim"]`).
fn module_of(path: &Path) -> Vec<String> {
    let mut m: Vec<String> = path
        .with_extension("")
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    if m.last().is_some_and(|l| l == "mod") {
        m.pop();
    }
    m
}

/// An absolute module path for `p` as written in module `from` (`crate::` and `super::` resolved).
fn resolve(from: &[String], p: &str, is_mod_rs: bool) -> Vec<String> {
    let mut segs: Vec<&str> = p.split("::").collect();
    let mut base: Vec<String> = Vec::new();
    if segs.first() == Some(&"crate") {
        segs.remove(0);
    } else {
        base = from.to_vec();
        let _ = is_mod_rs;
        while segs.first() == Some(&"super") {
            segs.remove(0);
            base.pop();
        }
    }
    base.extend(segs.into_iter().map(str::to_owned));
    base
}

/// Edges between sibling modules under `root`: A → B when a file in A names a path into B.
fn sibling_edges(root: &str) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = sources(&src(root));
    let modules: BTreeSet<Vec<String>> = files.iter().map(|(p, _)| module_of(p)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (path, text) in files.iter().filter(|(p, _)| !is_test_file(p)) {
        let from = module_of(path);
        let is_mod_rs = path.file_stem().is_some_and(|s| s == "mod");
        for p in paths(&code(text)) {
            let target = resolve(&from, &p, is_mod_rs);
            // The longest module the path reaches into.
            let Some(to) = (1..=target.len())
                .rev()
                .map(|n| target[..n].to_vec())
                .find(|m| modules.contains(m))
            else {
                continue;
            };
            // The first point where the two differ: siblings under their common parent.
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common >= from.len() || common >= to.len() {
                continue; // a module and its own parent or child
            }
            edges
                .entry(from[..=common].to_vec())
                .or_default()
                .insert(to[..=common].to_vec());
        }
    }
    edges
}

/// A circle in the graph, if there is one.
fn circle(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Option<Vec<String>> {
    fn visit(
        n: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            return Some(stack[i..].iter().chain([n]).map(|m| m.join("::")).collect());
        }
        if !done.insert(n.clone()) {
            return None;
        }
        stack.push(n.clone());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_two_modules_import_each_other_around_a_circle() {
    let edges = sibling_edges("controller");
    assert!(
        edges.contains_key(&vec!["controller".to_owned(), "reconcile".to_owned()]),
        "the graph is built: {edges:#?}"
    );
    assert_eq!(circle(&edges), None, "{edges:#?}");
    let crate_edges = sibling_edges("");
    assert_eq!(circle(&crate_edges), None, "{crate_edges:#?}");
}

/// The check itself: a circle through three modules is found, a chain is not.
#[test]
fn the_circle_check_finds_a_circle_and_passes_a_chain() {
    let m = |s: &str| vec![s.to_owned()];
    let chain: BTreeMap<_, _> = [(m("a"), [m("b")].into()), (m("b"), [m("c")].into())].into();
    assert_eq!(circle(&chain), None);
    let mut round = chain.clone();
    round.insert(m("c"), [m("a")].into());
    assert_eq!(
        circle(&round),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    assert_eq!(
        expand("super::{a, b::{c, d as e}, f::self}"),
        ["super::a", "super::b::c", "super::b::d", "super::f"]
    );
    let from = [
        "controller".to_owned(),
        "reconcile".to_owned(),
        "claim".to_owned(),
    ];
    assert_eq!(
        resolve(&from, "super::super::decide::gates", false),
        ["controller", "decide", "gates"]
    );
    assert_eq!(
        resolve(&from, "crate::api::v1alpha1", false),
        ["api", "v1alpha1"]
    );
}

/// The operator's release binary links no simulator, test environment or benchmark code: they
/// are crates of their own, and the operator's package names them only as dev-dependencies.
#[test]
fn the_operator_depends_on_no_simulator_test_environment_or_bench() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let section = |name: &str| -> String {
        let start = manifest.find(&format!("\n[{name}]\n")).unwrap();
        let rest = &manifest[start + name.len() + 4..];
        rest[..rest.find("\n[").unwrap_or(rest.len())].to_owned()
    };
    let normal = section("dependencies");
    let dev = section("dev-dependencies");
    for c in ["talkturo-sim", "talkturo-testenv", "talkturo-bench"] {
        assert!(!normal.contains(c), "{c} is a dependency of the operator");
        assert!(
            dev.contains(c),
            "{c} is no dev-dependency (the tests need it)"
        );
    }
    assert!(
        normal.contains("kube.workspace"),
        "the section was not found"
    );
}
