//! The class label, `telephony.talkturo.ai/class`: set by the operator on claims and
//! PhoneNumbers to the class serving them, so that active-active replicas cache only the objects
//! of the classes they hold (and users can select a class's objects).
//!
//! Its value is the class's name when that fits a label value (63 characters); a longer name (a
//! class name may have 253) is cut and ends in a digest of the whole name, so that two long names
//! never share a value.

use std::borrow::Cow;

use sha2::{Digest, Sha256};

/// The label's key.
pub const CLASS_LABEL: &str = "telephony.talkturo.ai/class";

/// Longest label value Kubernetes accepts.
const MAX_VALUE: usize = 63;

/// Hex digits of the digest that ends a long name's label value.
const DIGEST_HEX: usize = 16;

/// The label's value for objects served by `class`: the name itself when it fits (borrowed, no
/// allocation), else its cut ending in a digest.
pub fn value_of(class: &str) -> Cow<'_, str> {
    if class.len() <= MAX_VALUE {
        return Cow::Borrowed(class);
    }
    let digest = Sha256::digest(class.as_bytes());
    let hex: String = digest
        .iter()
        .take(DIGEST_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    // A class name is lowercase letters, digits, '-' and '.': any cut of it is a valid label
    // value once it ends in an alphanumeric character, and the digest follows a '-'.
    let keep = MAX_VALUE - DIGEST_HEX - 1;
    let head = class[..keep].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    Cow::Owned(format!("{head}-{hex}"))
}
