use super::*;

#[test]
fn descriptions_have_no_breaks_inside_a_paragraph() {
    assert_eq!(
        reflow("Base URL of the\naccount.\n\nSecond   para\ngraph."),
        "Base URL of the account.\n\nSecond para graph."
    );
    for (_, crd) in crds() {
        let yaml = serde_json::to_string(&crd).unwrap_or_default();
        for d in yaml.split("\"description\":\"").skip(1) {
            let text = d.split("\",").next().unwrap_or_default();
            let single = text.replace("\\n\\n", "");
            assert!(!single.contains("\\n"), "a line break inside: {text}");
        }
    }
}
