//! Tenants as the API server sees them: impersonated users bound to the chart's tenant roles.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleBinding};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

use super::TestEnv;

/// An impersonated user's client (the API server checks its RBAC, not the admin's).
pub fn client_as(env: &TestEnv, user: &str) -> kube::Client {
    let mut config = env.config();
    config.auth_info.impersonate = Some(user.to_owned());
    kube::Client::try_from(config).unwrap()
}

/// The chart's tenant roles (rendered by helm under release `release`), created in the cluster.
pub async fn install_tenant_roles(client: &kube::Client, release: &str) {
    let helm = talkturo_testenv::Binaries::locate().unwrap().path("helm");
    let out = std::process::Command::new(helm)
        .args([
            "template",
            release,
            concat!(env!("CARGO_MANIFEST_DIR"), "/charts/talkturo-operator"),
            "--show-only",
            "templates/tenant-rbac.yaml",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v: Value = serde::Deserialize::deserialize(doc).unwrap();
        if v.is_null() {
            continue;
        }
        match v["kind"].as_str() {
            Some("ClusterRole") => {
                Api::<ClusterRole>::all(client.clone())
                    .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
                    .await
                    .unwrap();
            }
            Some("ClusterRoleBinding") => {
                Api::<ClusterRoleBinding>::all(client.clone())
                    .create(&PostParams::default(), &serde_json::from_value(v).unwrap())
                    .await
                    .unwrap();
            }
            other => panic!("unexpected {other:?} in the tenant roles"),
        }
    }
}

/// Binds `user` in `ns` to what the built-in `view` role holds once the cluster aggregated it:
/// the rules of every ClusterRole labelled `aggregate-to-view` (Kubernetes' own
/// `system:aggregate-to-view` and the chart's `claims-view`). The test control plane runs no
/// controller-manager, so the aggregation is done here, as its controller would.
pub async fn bind_view(client: &kube::Client, ns: &str, user: &str) {
    let roles = Api::<ClusterRole>::all(client.clone())
        .list(&ListParams::default().labels("rbac.authorization.k8s.io/aggregate-to-view=true"))
        .await
        .unwrap();
    let rules: Vec<PolicyRule> = roles
        .items
        .into_iter()
        .flat_map(|r| r.rules.unwrap_or_default())
        .collect();
    assert!(
        rules.iter().any(|r| r
            .resources
            .as_ref()
            .is_some_and(|res| res.iter().any(|x| x == "phonenumberclaims"))),
        "the chart's claims-view role is not installed"
    );
    let name = format!("view-aggregated-{ns}-{user}");
    let role = ClusterRole {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        rules: Some(rules),
        ..Default::default()
    };
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    bind(client, ns, user, &name).await;
}

/// Binds `user` in `ns` to ClusterRole `role`.
pub async fn bind(client: &kube::Client, ns: &str, user: &str, role: &str) {
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": format!("{user}-{role}"), "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &rb)
        .await
        .unwrap();
}
