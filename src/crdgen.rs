//! The CRDs as YAML, generated from the Rust types. `crds/` holds this output, committed; a test
//! fails if it drifts.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim, PhoneNumberClass};

/// Every CRD this operator serves, with the file name it is committed under in `crds/`.
pub fn crds() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("phonenumberclasses.yaml", PhoneNumberClass::crd()),
        ("phonenumberclaims.yaml", PhoneNumberClaim::crd()),
        ("phonenumbers.yaml", PhoneNumber::crd()),
    ]
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
