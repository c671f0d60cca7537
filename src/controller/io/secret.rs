//! The class's API key, from its Secret: only a Secret labelled
//! `telephony.talkturo.ai/api-key: "true"` is ever used (whoever may create a class must not be
//! able to have the operator send any Secret of the key namespace to a URL of their choosing).

use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use secrecy::SecretString;

use crate::api::API_KEY_LABEL;
use crate::api::conditions::reasons;
use crate::api::v1alpha1::PhoneNumberClass;
use crate::controller::decide::class::NotReady;

/// The API token from the class's Secret.
pub async fn fetch_token(
    client: &kube::Client,
    class: &PhoneNumberClass,
) -> Result<SecretString, NotReady> {
    let r = &class.spec.api_key_secret_ref;
    let api: Api<Secret> = Api::namespaced(client.clone(), &r.namespace);
    let secret = match api.get_opt(&r.name).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(NotReady {
                reason: reasons::SECRET_NOT_FOUND,
                message: format!("Secret {}/{} does not exist", r.namespace, r.name),
            });
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            return Err(NotReady {
                reason: reasons::FORBIDDEN,
                message: format!(
                    "the operator may not read Secret {}/{}: {}",
                    r.namespace, r.name, s.message
                ),
            });
        }
        Err(e) => {
            return Err(NotReady {
                reason: reasons::UNREACHABLE,
                message: format!("reading Secret {}/{}: {e}", r.namespace, r.name),
            });
        }
    };
    let marked = secret
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(API_KEY_LABEL))
        .is_some_and(|v| v == "true");
    if !marked {
        return Err(NotReady {
            reason: reasons::SECRET_NOT_MARKED,
            message: format!(
                "Secret {}/{} is not marked as a Talkturo API key: nothing is sent until it carries the label {API_KEY_LABEL}=\"true\" (kubectl label secret -n {} {} {API_KEY_LABEL}=true)",
                r.namespace, r.name, r.namespace, r.name
            ),
        });
    }
    let value = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&r.key))
        .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned());
    match value {
        Some(v) if !v.is_empty() => Ok(SecretString::from(v)),
        Some(_) => Err(NotReady {
            reason: reasons::SECRET_KEY_MISSING,
            message: format!(
                "key {:?} of Secret {}/{} is empty",
                r.key, r.namespace, r.name
            ),
        }),
        None => Err(NotReady {
            reason: reasons::SECRET_KEY_MISSING,
            message: format!("Secret {}/{} has no key {:?}", r.namespace, r.name, r.key),
        }),
    }
}
