//! The CRDs as YAML, generated from the Rust types. `crds/` holds this output, committed; a test
//! fails if it drifts.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// Every CRD this operator serves, with the file name it is committed under in `crds/`.
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("phonenumberclasses.yaml", reflowed(PhoneNumberClass::crd())),
        ("phonenumberclaims.yaml", reflowed(PhoneNumberClaim::crd())),
        ("phonenumbers.yaml", reflowed(PhoneNumber::crd())),
    ]
}

/// The CRD with every description reflowed: doc comments wrap at 100 columns, and `kubectl
/// explain` would show those breaks mid-sentence. Paragraph breaks (blank lines) stay.
fn reflowed(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m.iter_mut() {
                    match v {
                        serde_json::Value::String(s) if k == "description" => *s = reflow(s),
                        other => walk(other),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let Ok(mut v) = serde_json::to_value(&crd) else {
        return crd;
    };
    walk(&mut v);
    serde_json::from_value(v).unwrap_or(crd)
}

/// One description: lines joined with spaces, paragraphs kept apart by a blank line.
pub fn reflow(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// One CRD as a YAML document.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(crd)
}

/// All CRDs as one multi-document YAML stream.
pub fn all_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for (_, crd) in crds() {
        out.push_str("---\n");
        out.push_str(&to_yaml(&crd)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
