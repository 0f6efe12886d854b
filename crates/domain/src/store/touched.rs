//! The activity touches one process wrote lately (`store::activity` decides when to touch;
//! this only remembers), kept apart so that [`super::handle::Store`] can hold it without the
//! handle depending on the activity module that depends on it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::UserId;

/// User -> when this process last wrote their touch (ms).
#[derive(Debug, Default)]
pub(crate) struct Touched(Mutex<HashMap<UserId, u64>>);

/// Users remembered before the map is swept of entries older than a touch interval.
const REMEMBERED: usize = 200_000;

impl Touched {
    /// Whether `user` was touched within `interval` ms before `now`.
    pub(crate) fn recently(&self, user: UserId, now: u64, interval: u64) -> bool {
        let seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        seen.get(&user).is_some_and(|&at| at + interval > now)
    }

    pub(crate) fn record(&self, user: UserId, now: u64, interval: u64) {
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= REMEMBERED {
            seen.retain(|_, &mut at| at + interval > now);
            if seen.len() >= REMEMBERED {
                seen.clear();
            }
        }
        seen.insert(user, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_touch_is_remembered_for_one_interval() {
        let touched = Touched::default();
        let user = UserId::new(7);
        assert!(!touched.recently(user, 1_000, 100));
        touched.record(user, 1_000, 100);
        assert!(touched.recently(user, 1_099, 100));
        assert!(!touched.recently(user, 1_100, 100));
        assert!(!touched.recently(UserId::new(8), 1_050, 100));
    }
}
