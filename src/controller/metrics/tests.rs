use super::*;

#[test]
fn the_queue_counts_each_waiting_object_once_until_its_reconcile_starts() {
    let m = Metrics::default();
    m.queue.queued("phonenumber", "/tel-1".into());
    m.queue.queued("phonenumber", "/tel-1".into());
    m.queue.queued("phonenumber", "/tel-2".into());
    m.queue.queued("phonenumberclaim", "ns/a".into());
    let text = m.encode();
    assert!(
        text.contains("talkturo_operator_queue_depth{controller=\"phonenumber\"} 2"),
        "{text}"
    );
    m.queue.started("phonenumber", "/tel-1");
    m.queue.started("phonenumberclaim", "ns/a");
    let text = m.encode();
    assert!(
        text.contains("talkturo_operator_queue_depth{controller=\"phonenumber\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("talkturo_operator_queue_depth{controller=\"phonenumberclaim\"} 0"),
        "{text}"
    );
}

#[test]
fn a_forgotten_class_leaves_no_series() {
    let m = Metrics::default();
    let f = ClassFigures {
        phases: vec![("Bound", 3)],
        ready: true,
        monthly_cost: 3.45,
        budget: Some(10.0),
        plan_limit: Some(5),
        plan_numbers: Some(3),
        listed_at: Some(1.0),
        ..Default::default()
    };
    m.observe_class("gold", &f);
    m.purchase("gold", "bought");
    m.drift_corrected("gold");
    let text = m.encode();
    for series in [
        "talkturo_operator_monthly_cost_dollars{class=\"gold\"} 3.45",
        "talkturo_operator_plan_number_limit{class=\"gold\"} 5",
        "talkturo_operator_assistant_drift_corrections_total{class=\"gold\"} 1",
        "talkturo_operator_phone_numbers{class=\"gold\",phase=\"Bound\"} 3",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    m.observe_class("gold", &ClassFigures { budget: None, ..f });
    assert!(
        !m.encode()
            .contains("monthly_budget_dollars{class=\"gold\"}")
    );
    m.forget_class("gold");
    let text = m.encode();
    assert!(!text.contains("gold"), "{text}");
}

#[test]
fn the_build_info_names_the_crate_version() {
    let text = Metrics::default().encode();
    let series = format!(
        "talkturo_operator_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&series), "{series} missing:\n{text}");
}

#[test]
fn the_shard_series_count_rounds() {
    let m = Metrics::default();
    m.shards.round(3, 0, 3);
    m.shards.round(0, 1, 2);
    let text = m.encode();
    for series in [
        "talkturo_operator_classes_served 2",
        "talkturo_operator_class_leases_taken_total 3",
        "talkturo_operator_class_leases_given_up_total 1",
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
}
