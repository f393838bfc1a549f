//! `/metrics` in the Prometheus text format (prometheus-client): requests and errors by
//! route and status code, a latency histogram per route, flows scored, verdicts by family,
//! the gate's weights per expert, and the active model.

use std::sync::Mutex;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets, linear_buckets};
use prometheus_client::registry::Registry;

use crate::model::ExpertSpec;
use crate::model::Verdict;
use crate::service::LoadedModel;

type Labels = Vec<(String, String)>;

/// Every metric the server exports, and the registry that encodes them.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    latency: Family<Labels, Histogram>,
    flows: Counter,
    verdicts: Family<Labels, Counter>,
    gate: Family<Labels, Histogram>,
}

impl Metrics {
    pub fn new(model: &LoadedModel) -> Self {
        let mut registry = Registry::with_prefix("netvigil");
        let requests = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        // 0.25 ms to 8 s: a one-flow request takes well under a millisecond, a capture upload seconds.
        let latency =
            Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(exponential_buckets(0.00025, 2.0, 16)));
        let flows = Counter::default();
        let verdicts = Family::<Labels, Counter>::default();
        let gate = Family::<Labels, Histogram>::new_with_constructor(|| Histogram::new(linear_buckets(0.1, 0.1, 10)));
        let model_info = Family::<Labels, Gauge>::default();
        registry.register("http_requests", "HTTP requests by route and status code", requests.clone());
        registry.register(
            "http_errors",
            "HTTP requests answered with a 4xx or 5xx status, by route and code",
            errors.clone(),
        );
        registry.register("http_request_duration_seconds", "Time to answer a request, by route", latency.clone());
        registry.register("flows_scored", "Flows scored", flows.clone());
        registry.register("verdicts", "Verdicts by family (benign included)", verdicts.clone());
        registry.register("gate_weight", "Weight the gate gave each expert, per scored flow", gate.clone());
        registry.register("active_model", "The model scoring requests (value 1)", model_info.clone());
        model_info
            .get_or_create(&vec![("name".into(), model.name.clone()), ("sha256".into(), model.sha256.clone())])
            .set(1);
        Metrics { registry: Mutex::new(registry), requests, errors, latency, flows, verdicts, gate }
    }

    /// Counts one answered request.
    pub fn request(&self, route: &str, code: u16, seconds: f64) {
        let labels = vec![("route".to_string(), route.to_string()), ("code".to_string(), code.to_string())];
        self.requests.get_or_create(&labels).inc();
        if code >= 400 {
            self.errors.get_or_create(&labels).inc();
        }
        self.latency.get_or_create(&vec![("route".to_string(), route.to_string())]).observe(seconds);
    }

    /// Counts the verdicts of one scored request.
    pub fn scored(&self, verdicts: &[Verdict], experts: &[ExpertSpec]) {
        self.flows.inc_by(verdicts.len() as u64);
        let mut by_family = std::collections::BTreeMap::<&str, u64>::new();
        for v in verdicts {
            *by_family.entry(v.family.name()).or_default() += 1;
        }
        for (family, n) in by_family {
            self.verdicts.get_or_create(&vec![("family".to_string(), family.to_string())]).inc_by(n);
        }
        for e in experts {
            let h = self.gate.get_or_create(&vec![("expert".to_string(), e.short.to_string())]);
            for v in verdicts {
                h.observe(f64::from(v.gate[e.slot]));
            }
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &registry);
        text
    }
}
