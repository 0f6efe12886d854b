//! The domain crate's modules form a DAG: leaves (ids and newtypes, quotas, keys, errors) at the
//! bottom, the store above them, the use cases (accounts, fan-out, social) above the store.
//!
//! The graph is read from the sources: a file module uses another when its code (comments and
//! `#[cfg(test)]` modules aside) names a path through it: `crate::a::b`, `super::b`, or, in a
//! parent, `child::x`; a path is credited to the deepest module it names. A module also stands
//! above the modules it declares (`mod x;`), so a child never uses its parent: what the children
//! of a module share lives in a child of its own (`store::handle`, `fanout::config`). Run with
//! `--nocapture` to print the edges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `src/lib.rs` is the crate root, ``.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without comments and without its trailing `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let text = match text.find("\n#[cfg(test)]") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::a::b...` and `super::a...` path in `code`, as segments after the prefix,
/// resolved against `module`.
fn paths_in(code: &str, module: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for prefix in ["crate::", "super::"] {
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            let before = rest[..at].chars().next_back();
            rest = &rest[at + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            assert!(
                !rest.starts_with('{'),
                "module {module:?}: write `use {prefix}a::{{..}}` per module, not \
                 `{prefix}{{a, b}}`, so that this test sees each module used"
            );
            let path = segments(rest);
            let base: Vec<String> = if prefix == "super::" {
                let mut parent: Vec<String> = module.split("::").map(str::to_owned).collect();
                parent.pop();
                parent.into_iter().filter(|s| !s.is_empty()).collect()
            } else {
                Vec::new()
            };
            found.push(base.into_iter().chain(path).collect());
        }
    }
    found
}

/// The identifiers of a path at the start of `text`: `a::b::C` of `a::b::C::new(..)` is
/// `[a, b, C, new]`; the path ends at the first identifier not followed by `::`.
fn segments(mut text: &str) -> Vec<String> {
    let mut path = Vec::new();
    loop {
        let len = text
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(text.len());
        if len == 0 {
            return path;
        }
        path.push(text[..len].to_owned());
        match text[len..].strip_prefix("::") {
            Some(next) => text = next,
            None => return path,
        }
    }
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(&src, f), f.clone()))
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let used = edges.entry(module.clone()).or_default();
        // Ownership: a module's children are below it.
        for child in modules.keys() {
            let owned = match module.as_str() {
                "" => !child.is_empty() && !child.contains("::"),
                parent => child
                    .strip_prefix(parent)
                    .and_then(|rest| rest.strip_prefix("::"))
                    .is_some_and(|rest| !rest.contains("::")),
            };
            if owned {
                used.insert(child.clone());
            }
        }
        // A parent's own children, named by a relative path (`walk::f`, `pub use walk::f`).
        let children = modules.keys().filter_map(|m| {
            let child = match module.as_str() {
                "" => m.as_str(),
                parent => m.strip_prefix(parent)?.strip_prefix("::")?,
            };
            (!child.is_empty() && !child.contains("::")).then_some((m, child))
        });
        for (child_module, child) in children {
            let named = code.match_indices(&format!("{child}::")).any(|(at, _)| {
                let before = code[..at].chars().next_back();
                !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if named {
                used.insert(child_module.clone());
            }
        }
        for path in paths_in(&code, module) {
            // The deepest module the path names.
            let target = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|m| modules.contains_key(m));
            if let Some(target) = target
                && &target != module
            {
                used.insert(target);
            }
        }
    }
    edges
}

/// A cycle in `edges`, if there is one (depth-first search, colouring nodes).
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<&'a str>,
        stack: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node);
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut done, &mut Vec::new()))
}

#[test]
fn the_domain_modules_form_a_dag() {
    let edges = graph();
    for (module, used) in &edges {
        let name = if module.is_empty() { "(lib)" } else { module };
        println!(
            "{name} -> {}",
            used.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    assert!(edges.len() > 20, "found too few modules: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        panic!("import cycle: {}", cycle.join(" -> "));
    }
}

/// The layers of `src/lib.rs`'s docs, bottom first; a module's children share its layer.
const LAYERS: [&[&str]; 4] = [
    &[
        "cache",
        "clock",
        "error",
        "events",
        "keys",
        "model",
        "page",
        "quota",
        "redis_pool",
        "scripts",
    ],
    &["auth", "hashing"],
    &["store"],
    &["accounts", "fanout", "migrations", "ratelimit", "social"],
];

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or_default();
    LAYERS.iter().position(|layer| layer.contains(&top))
}

#[test]
fn every_module_uses_only_its_own_layer_or_below() {
    for (module, used) in graph() {
        if module.is_empty() {
            continue; // the crate root declares everything
        }
        let own = layer_of(&module).unwrap_or_else(|| panic!("{module} is in no layer"));
        for target in used {
            let theirs = layer_of(&target).unwrap_or_else(|| panic!("{target} is in no layer"));
            assert!(
                theirs <= own,
                "{module} (layer {own}) uses {target} (layer {theirs})"
            );
        }
    }
}

#[test]
fn the_checker_sees_a_cycle_and_a_super_path() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(find_cycle(&edges).unwrap(), ["a", "b", "a"]);
    let paths = paths_in(
        "use super::walk::f; x(crate::store::Store);",
        "fanout::spread",
    );
    assert_eq!(
        paths,
        [
            vec!["store".to_owned(), "Store".to_owned()],
            vec!["fanout".to_owned(), "walk".to_owned(), "f".to_owned()],
        ]
    );
}
