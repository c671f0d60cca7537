use super::*;

#[test]
fn an_archive_holds_the_layer_its_config_names_and_a_manifest() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| unreachable!("{e}"));
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("bin")).unwrap_or_else(|e| unreachable!("{e}"));
    std::fs::write(root.join("bin/hello"), "hi").unwrap_or_else(|e| unreachable!("{e}"));
    let out = dir.path().join("img.tar");
    let cfg = ImageConfig {
        entrypoint: vec!["/bin/hello".into()],
        user: "65532:65532".into(),
        ..Default::default()
    };
    docker_archive(&root, "localhost/hello:t", &cfg, &out).unwrap_or_else(|e| unreachable!("{e}"));
    let mut names = Vec::new();
    let mut manifest = String::new();
    let mut ar =
        tar::Archive::new(std::fs::File::open(&out).unwrap_or_else(|e| unreachable!("{e}")));
    for entry in ar.entries().unwrap_or_else(|e| unreachable!("{e}")) {
        let mut entry = entry.unwrap_or_else(|e| unreachable!("{e}"));
        let name = entry
            .path()
            .unwrap_or_else(|e| unreachable!("{e}"))
            .display()
            .to_string();
        if name == "manifest.json" {
            std::io::Read::read_to_string(&mut entry, &mut manifest)
                .unwrap_or_else(|e| unreachable!("{e}"));
        }
        names.push(name);
    }
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(manifest.contains("localhost/hello:t"), "{manifest}");
    // Reproducible: the same tree gives the same bytes.
    let again = dir.path().join("again.tar");
    docker_archive(&root, "localhost/hello:t", &cfg, &again)
        .unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(std::fs::read(&out).ok(), std::fs::read(&again).ok());
}
