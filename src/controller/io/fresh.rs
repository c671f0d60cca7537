//! Reads past this replica's caches. With active-active replicas a replica caches only the
//! claims and PhoneNumbers of the classes it serves, so its cache proves an object's presence,
//! never its absence: before an absence decides anything (a claim gone releases its number, a
//! PhoneNumber gone marks its claim `Lost`, no PhoneNumber bound to a claim lets it buy one), the
//! object is looked for in the API server. One replica serving every class caches everything,
//! and its cache's answer stands.

use std::sync::Arc;

use kube::api::{Api, ListParams};
use kube::runtime::reflector::{ObjectRef, Store};

use crate::api::lean::{Lean, Parts};
use crate::api::v1alpha1::{PhoneNumber, PhoneNumberClaim};
use crate::controller::{Context, Error};

/// Fields PhoneNumbers can be selected by (the CRD's `selectableFields`).
pub const CLAIM_NAMESPACE_FIELD: &str = "spec.claimRef.namespace";
pub const CLAIM_NAME_FIELD: &str = "spec.claimRef.name";

type Found<K> = Result<Option<Arc<K>>, Error>;

impl Context {
    /// The PhoneNumber named `name`, from the cache or, missing there with active-active
    /// replicas, from the API server.
    pub async fn number_named(&self, name: &str) -> Found<PhoneNumber> {
        let api = Api::all(self.client.clone());
        self.named(
            &self.numbers,
            api,
            ObjectRef::new(name),
            "reading a PhoneNumber",
        )
        .await
    }

    /// The claim `ns/name`, from the cache or, missing there with active-active replicas, from
    /// the API server.
    pub async fn claim_named(&self, ns: &str, name: &str) -> Found<PhoneNumberClaim> {
        let api = Api::namespaced(self.client.clone(), ns);
        let key = ObjectRef::new(name).within(ns);
        self.named(&self.claims, api, key, "reading a claim").await
    }

    async fn named<K>(
        &self,
        cache: &Store<K>,
        api: Api<Lean<K>>,
        key: ObjectRef<K>,
        step: &'static str,
    ) -> Found<K>
    where
        K: Parts + Clone + std::fmt::Debug,
    {
        if let Some(obj) = cache.get(&key) {
            return Ok(Some(obj));
        }
        if self.shards.is_none() {
            return Ok(None);
        }
        let found = api.get_opt(&key.name).await.map_err(Error::kube(step))?;
        Ok(found.map(|l| Arc::new(l.0)))
    }

    /// The PhoneNumbers whose `claimRef` names the claim `ns/name`, read from the API server
    /// (whatever their class).
    pub async fn numbers_claiming(
        &self,
        ns: &str,
        name: &str,
    ) -> Result<Vec<Arc<PhoneNumber>>, Error> {
        let fields = format!("{CLAIM_NAMESPACE_FIELD}={ns},{CLAIM_NAME_FIELD}={name}");
        let params = ListParams::default().fields(&fields);
        let api = Api::all(self.client.clone());
        list(api, params, "reading the PhoneNumbers bound to a claim").await
    }

    /// Every PhoneNumber bound to a claim in `ns`, whatever its class, read from the API server.
    pub async fn numbers_of_namespace(&self, ns: &str) -> Result<Vec<Arc<PhoneNumber>>, Error> {
        let params = ListParams::default().fields(&format!("{CLAIM_NAMESPACE_FIELD}={ns}"));
        let api = Api::all(self.client.clone());
        list(api, params, "reading a namespace's PhoneNumbers").await
    }

    /// The claims of namespace `ns`: from the cache or, with active-active replicas (whose cache
    /// holds only their classes' claims), from the API server.
    pub async fn claims_of_namespace(&self, ns: &str) -> Result<Vec<Arc<PhoneNumberClaim>>, Error> {
        if self.shards.is_none() {
            let mut claims = self.claims.state();
            claims.retain(|c| c.metadata.namespace.as_deref() == Some(ns));
            return Ok(claims);
        }
        let api = Api::namespaced(self.client.clone(), ns);
        list(api, ListParams::default(), "reading a namespace's claims").await
    }
}

/// Every object `params` selects, in pages of 500.
async fn list<K>(
    api: Api<Lean<K>>,
    params: ListParams,
    step: &'static str,
) -> Result<Vec<Arc<K>>, Error>
where
    K: Parts + Clone + std::fmt::Debug,
{
    let mut params = params.limit(500);
    let mut found = Vec::new();
    loop {
        let page = api.list(&params).await.map_err(Error::kube(step))?;
        found.extend(page.items.into_iter().map(|l| Arc::new(l.0)));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(found),
        }
    }
}
