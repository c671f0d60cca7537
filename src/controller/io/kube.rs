//! The operator's writes to Kubernetes objects, each remembered until the cache shows it, and its
//! Events.

use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};

use crate::api::v1alpha1::PhoneNumber;
use crate::controller::decide::events::Note;
use crate::controller::fence;
use crate::controller::{Context, Error, FIELD_MANAGER};

impl Context {
    /// `Ok` when the reconcile running now may still write (see [`fence`]): refused once this
    /// replica's Lease for its class has lapsed.
    pub fn fence(&self, step: &'static str) -> Result<(), Error> {
        if fence::may_write() {
            Ok(())
        } else {
            tracing::warn!(
                step,
                "not written: this replica's Lease for the class has lapsed"
            );
            Err(Error::Fenced(step))
        }
    }

    /// Merge-patches a PhoneNumber (`patch` may carry a `resourceVersion` precondition) and
    /// remembers the write until the cache shows it.
    pub async fn patch_number(
        &self,
        pn: &PhoneNumber,
        patch: &serde_json::Value,
        step: &'static str,
    ) -> Result<(), Error> {
        self.fence(step)?;
        let api: Api<PhoneNumber> = Api::all(self.client.clone());
        let after = api
            .patch(
                &pn.name_any(),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map_err(Error::kube(step))?;
        self.writes.wrote(pn, &after);
        Ok(())
    }

    /// Writes `status` (and, with `precondition`, only at that resourceVersion) to the object's
    /// status subresource by server-side apply, and remembers the write until the cache shows
    /// it.
    pub async fn apply_status<K>(
        &self,
        api: Api<K>,
        obj: &K,
        status: &impl serde::Serialize,
        precondition: Option<&str>,
        step: &'static str,
    ) -> Result<(), Error>
    where
        K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
    {
        let mut patch = serde_json::json!({
            "apiVersion": K::api_version(&()),
            "kind": K::kind(&()),
            "status": status,
        });
        self.fence(step)?;
        if let Some(rv) = precondition {
            patch["metadata"] = serde_json::json!({"resourceVersion": rv});
        }
        let after = api
            .patch_status(
                &obj.name_any(),
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&patch),
            )
            .await
            .map_err(Error::kube(step))?;
        self.writes.wrote(obj, &after);
        Ok(())
    }

    /// Publishes an Event about `obj`; failures are logged, never fatal. Normal Events (one per
    /// transition, never repeated) go through a recorder of their own, so a burst does not keep
    /// them in the series cache; Warnings, which may repeat, are folded into a series.
    pub async fn publish<K: Resource<DynamicType = ()>>(&self, obj: &K, note: Note) {
        // An Event of a class's work after its Lease lapsed would tell what the new holder may
        // have undone.
        if self.fence("publishing an Event").is_err() {
            return;
        }
        let type_ = if note.warning {
            EventType::Warning
        } else {
            EventType::Normal
        };
        let ev = Event {
            type_,
            reason: note.reason.to_owned(),
            note: Some(note.message),
            action: note.action.to_owned(),
            secondary: None,
        };
        let published = if type_ == EventType::Normal {
            Recorder::new(self.client.clone(), self.reporter.clone())
                .publish(&ev, &obj.object_ref(&()))
                .await
        } else {
            self.recorder.publish(&ev, &obj.object_ref(&())).await
        };
        if let Err(e) = published {
            tracing::warn!(error = %e, reason = note.reason, "could not publish an event");
        }
    }

    /// Publishes each of `notes` about `obj`, in order.
    pub async fn publish_all<K: Resource<DynamicType = ()>>(&self, obj: &K, notes: Vec<Note>) {
        for note in notes {
            self.publish(obj, note).await;
        }
    }
}
