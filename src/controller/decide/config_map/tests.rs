//! The claim's ConfigMap: when it is written, and which one is never taken over.

use serde_json::json;

use super::*;

fn cm(owner: Option<(&str, &str)>) -> ConfigMap {
    let refs = owner.map(|(name, uid)| {
        json!([{"apiVersion": "telephony.talkturo.ai/v1alpha1", "kind": "PhoneNumberClaim",
                "name": name, "uid": uid, "controller": true}])
    });
    serde_json::from_value(json!({"metadata": {"name": "phone", "ownerReferences": refs}}))
        .unwrap_or_default()
}

#[rustfmt::skip]
#[test]
fn a_config_map_is_written_when_the_number_or_the_name_changed_and_only_one_the_claim_controls() {
    let wants = PhoneNumberClaim::test().spec(json!({"configMapName": "phone"}));
    let owned = PhoneNumber::test().owned("pn_1").build();
    let written = wants.clone().with(json!({"status": {"configMapName": "phone", "configMapNumberId": "pn_1", "number": "+14155550101", "numberId": "pn_1"}})).build();
    // The claim moved to another number (a trial replaced) before its ConfigMap was written.
    let moved = wants.clone().with(json!({"status": {"configMapName": "phone", "configMapNumberId": "pn_1", "number": "+14155550102", "numberId": "pn_2"}})).build();
    // Written by a version that did not record the id: written once more.
    let unrecorded = wants.clone().with(json!({"status": {"configMapName": "phone", "number": "+14155550101", "numberId": "pn_1"}})).build();
    let rows: [(&str, PhoneNumberClaim, &PhoneNumber, &str); 7] = [
        ("the claim's number moved, the ConfigMap was not written: write", moved, &PhoneNumber::test().owned("pn_2").build(), "write"),
        ("what was written is not recorded: write", unrecorded, &owned, "write"),
        ("no configMapName: nothing", PhoneNumberClaim::test().build(), &owned, "none"),
        ("no number bought yet: nothing", wants.clone().build(), &PhoneNumber::test().build(), "none"),
        ("never written: write", wants.clone().build(), &owned, "write"),
        ("written with this number: nothing to read or write", written.clone(), &owned, "current"),
        ("the number changed: write", written, &PhoneNumber::test().owned("pn_2").build(), "write"),
    ];
    for (case, claim, pn, want) in rows {
        let got = match need(&claim, pn) {
            Need::None => "none",
            Need::Current { .. } => "current",
            Need::Write { .. } => "write",
        };
        assert_eq!(got, want, "{case}");
    }
    let claim = wants.build();
    assert!(controlled_by(&cm(Some(("line", "uid-claim"))), &claim), "created for this claim");
    assert!(!controlled_by(&cm(Some(("line", "uid-old"))), &claim), "an earlier claim's");
    assert!(!controlled_by(&cm(None), &claim), "someone else's");
    for (case, owner, says) in [
        ("another claim's", Some(("other", "uid-x")), "claim other"),
        ("an earlier claim of the same name", Some(("line", "uid-old")), "earlier claim"),
        ("not the operator's", None, "not created by the operator"),
    ] {
        let c = conflict("phone", &cm(owner), &claim);
        assert!(!c.status && c.message.contains(says), "{case}: {}", c.message);
    }
    let desired = desired(&claim, &owned, "phone", "pn_1");
    assert_eq!(desired.data.unwrap_or_default().get("PHONE_NUMBER_COUNTRY").map(String::as_str), Some("US"));
}
