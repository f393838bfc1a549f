//! A value computed on a worker thread from a key (the data's generation, a query): the view
//! asks for the value of the current key every frame and draws the newest one it has, so the
//! UI thread never waits on an aggregation or a sort.

use std::sync::mpsc::{Receiver, channel};

pub struct Pending<K, T> {
    current: Option<(K, T)>,
    in_flight: Option<(K, Receiver<T>)>,
}

impl<K, T> Default for Pending<K, T> {
    fn default() -> Self {
        Pending { current: None, in_flight: None }
    }
}

impl<K: PartialEq + Clone, T: Send + 'static> Pending<K, T> {
    /// Adopts a finished computation, and starts `compute` on `runtime`'s blocking pool when
    /// neither the value held nor the one in flight is for `key`.
    pub fn update(&mut self, key: &K, runtime: &tokio::runtime::Runtime, compute: impl FnOnce() -> T + Send + 'static) {
        if let Some((k, rx)) = &self.in_flight {
            if let Ok(value) = rx.try_recv() {
                self.current = Some((k.clone(), value));
                self.in_flight = None;
            }
        }
        let held = self.current.as_ref().is_some_and(|(k, _)| k == key);
        let coming = self.in_flight.as_ref().is_some_and(|(k, _)| k == key);
        if held || coming {
            return;
        }
        let (tx, rx) = channel();
        runtime.spawn_blocking(move || {
            // The view may have moved on to another key: then nobody waits for this one.
            let _ = tx.send(compute());
        });
        self.in_flight = Some((key.clone(), rx));
    }

    /// The newest value, possibly for an older key, with its key.
    pub fn held(&self) -> Option<(&K, &T)> {
        self.current.as_ref().map(|(k, v)| (k, v))
    }

    /// Whether the value held is for `key` (nothing newer is being computed).
    pub fn is_current(&self, key: &K) -> bool {
        self.current.as_ref().is_some_and(|(k, _)| k == key) && self.in_flight.is_none()
    }

    pub fn clear(&mut self) {
        self.current = None;
        self.in_flight = None;
    }
}
